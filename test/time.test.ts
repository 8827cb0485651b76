import { expect, test } from 'bun:test'
import { parseRfc3339, timestampMs } from '../src/time/rfc3339'

test("Go's time.Time as it marshals it: any zone, 0 to 9 fraction digits, read to the millisecond", () => {
  const utc = Date.UTC(2026, 10, 27, 12, 59, 18, 482)
  for (const text of ['2026-11-27T20:59:18.482913675+08:00', '2026-11-27T12:59:18.482Z', '2026-11-27T07:14:18.4829-05:45', '2026-11-27 12:59:18.482z']) {
    expect(parseRfc3339(text)).toBe(utc)
  }
  expect(parseRfc3339('2026-11-27T12:59:18Z')).toBe(Date.UTC(2026, 10, 27, 12, 59, 18))
  expect(parseRfc3339('2026-12-31T23:59:60Z')).toBe(Date.UTC(2027, 0, 1)) // a leap second
  expect(parseRfc3339('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29))
})

test('a time that is not real is refused, where Date.parse would roll it over', () => {
  for (const text of ['2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-27T24:00:00Z', '2026-11-27T12:60:00Z',
    '2026-11-27T12:00:00+24:00', '2026-11-27T12:00:00', '2026-11-27T12:00:00.1234567890Z', '27/11/2026', '']) {
    expect({ text, ms: parseRfc3339(text) }).toEqual({ text, ms: Number.NaN })
  }
  expect(timestampMs(1e300)).toBeNaN()
  expect(timestampMs(null)).toBeNaN()
  expect(timestampMs(1_795_000_000_000)).toBe(1_795_000_000_000)
})
