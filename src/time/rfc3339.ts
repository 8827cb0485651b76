/**
 * Times as agents and API callers write them. Date.parse is lenient — it rolls 2026-02-30 over
 * to March and takes 24:00 — so an RFC 3339 time is read field by field and refused unless every
 * field is in range. Go writes `time.Time` with a zone and up to 9 fraction digits; milliseconds
 * are kept.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** The largest time a JavaScript Date holds, ±8.64e15 ms. */
export const MAX_TIME_MS = 8.64e15

/** RFC 3339 → epoch milliseconds, or NaN when it is not a real time. */
export function parseRfc3339(text: string): number {
  const match = RFC3339.exec(text)
  if (!match) return Number.NaN
  const [, year, month, day, hour, minute, second, fraction = '', , sign, offsetHours = '0', offsetMinutes = '0'] = match
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number]
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  // Second 60 is a leap second; the offset's hours and minutes are bounded like a clock's.
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 60 || Number(offsetHours) > 23 || Number(offsetMinutes) > 59) {
    return Number.NaN
  }
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000
  return Date.UTC(y, mo - 1, d, h, mi, s, Number(fraction.padEnd(3, '0').slice(0, 3))) - (sign ? offsetMs : 0)
}

/** A node's timestamp: RFC 3339 or epoch milliseconds → epoch milliseconds (NaN when unreadable). */
export function timestampMs(value: unknown): number {
  if (typeof value === 'number') return Math.abs(value) <= MAX_TIME_MS ? value : Number.NaN
  return typeof value === 'string' ? parseRfc3339(value) : Number.NaN
}
