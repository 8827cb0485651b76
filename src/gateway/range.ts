import { parseDuration } from '../config/parse'
import { MAX_TIME_MS, parseRfc3339 } from '../time/rfc3339'
import { HttpError } from '../http/errors'
import { DEFAULT_FLEET_POINTS, MAX_FLEET_VALUES, type HistoryQuery } from '../model'
import { chooseTier, type Tier } from '../storage/tiers'

const HOUR_MS = 3_600_000
export const DEFAULT_HOURS = 24
export { DEFAULT_FLEET_POINTS, MAX_FLEET_VALUES }

/** A bare number below this in `start`/`end` is epoch seconds: as milliseconds it would be before 1973-03-04. */
const SECONDS_BELOW = 1e11

export interface HistoryRange {
  startMs: number
  endMs: number
  /** bucket starts to read, in seconds: from (inclusive) to (exclusive) */
  fromS: number
  toS: number
  tier: Tier
  /** bucket width in seconds: the tier's interval, or a multiple of it when downsampling */
  widthS: number
}

/**
 * The range and resolution a history query asks for. `hours` alone reads the finest tier point
 * by point, exactly as it always has; `start`/`end` pick the tier from the range, and `step` or
 * `max_points` widen the buckets (average of averages, peak of peaks).
 */
export function resolveRange(query: HistoryQuery, tiers: readonly Tier[], now = Date.now()): HistoryRange {
  if (query.hours !== undefined && query.start !== undefined) {
    throw new HttpError(400, 'invalid_request', 'give either hours or start/end, not both')
  }
  const endMs = query.end === undefined ? now : parseTime('end', query.end)
  const startMs = query.start === undefined ? endMs - (query.hours ?? DEFAULT_HOURS) * HOUR_MS : parseTime('start', query.start)
  if (!(startMs < endMs)) throw new HttpError(400, 'invalid_request', 'start must be before end')
  const rangeS = Math.ceil((endMs - startMs) / 1000)
  const stepS = query.step === undefined ? 0 : parseStep(query.step)
  // Buckets are aligned on the epoch, so a range can touch one more bucket than it spans.
  const fitS = query.max_points === undefined ? 0 : Math.ceil(rangeS / (query.max_points - 1))
  const wantedS = Math.max(stepS, fitS)
  const tier = query.start === undefined && wantedS === 0 ? tiers[0]! : chooseTier(tiers, startMs, wantedS, now)
  const widthS = Math.max(tier.intervalS, Math.ceil(wantedS / tier.intervalS) * tier.intervalS)
  // `hours` reads the buckets that start within the range, as it always has; an explicit range
  // reads every bucket it overlaps, so an hour that began before `start` is not left out.
  const fromS = query.start === undefined ? Math.ceil(startMs / 1000) : Math.floor(startMs / 1000) - tier.intervalS + 1
  return { startMs, endMs, fromS, toS: Math.floor(endMs / 1000) + 1, tier, widthS }
}

function parseTime(name: string, text: string): number {
  const number = /^\d+$/.test(text) ? Number(text) : undefined
  const ms = number === undefined ? parseRfc3339(text) : number < SECONDS_BELOW ? number * 1000 : number
  if (!Number.isFinite(ms) || ms > MAX_TIME_MS) {
    throw new HttpError(400, 'invalid_request', `invalid query parameter '${name}' ${JSON.stringify(text)}: expected epoch seconds, epoch milliseconds or RFC 3339`)
  }
  return ms
}

/** How many buckets of the range's width the range can touch (they are aligned on the epoch). */
export function bucketCount(range: HistoryRange): number {
  return Math.max(0, Math.floor((range.toS - 1) / range.widthS) - Math.floor(range.fromS / range.widthS) + 1)
}

/**
 * The `max_points` a fleet query runs with: the caller's, else none when it gave a `step`, else
 * DEFAULT_FLEET_POINTS, fewer on a cluster so large that those would pass MAX_FLEET_VALUES.
 */
export function fleetMaxPoints(query: Pick<HistoryQuery, 'max_points' | 'step'>, nodes: number): number | undefined {
  if (query.max_points !== undefined || query.step !== undefined) return query.max_points
  return Math.max(2, Math.min(DEFAULT_FLEET_POINTS, Math.floor(MAX_FLEET_VALUES / Math.max(1, nodes))))
}

/** Refuses a fleet query whose answer would hold more than MAX_FLEET_VALUES values, before it runs. */
export function checkFleetSize(nodes: number, range: HistoryRange): void {
  const points = bucketCount(range)
  if (nodes * points <= MAX_FLEET_VALUES) return
  throw new HttpError(
    400,
    'too_many_points',
    `${nodes} nodes × ${points} points = ${nodes * points} values, more than ${MAX_FLEET_VALUES} in one answer: ` +
      `narrow the range (hours, start/end) or set max_points (at most ${Math.max(0, Math.floor(MAX_FLEET_VALUES / Math.max(1, nodes)))} for this cluster) or a wider step`,
  )
}

/** A bucket wider than ten years says nothing a narrower one does not, and its arithmetic loses precision. */
const MAX_STEP_S = 10 * 366 * 86_400

function parseStep(text: string): number {
  try {
    const seconds = /^\d+$/.test(text) ? Number(text) : parseDuration(text) / 1000
    if (seconds >= 1 && seconds <= MAX_STEP_S) return Math.ceil(seconds)
  } catch {}
  throw new HttpError(400, 'invalid_request', `invalid query parameter 'step' ${JSON.stringify(text)}: expected a duration such as 15m or 1h, or seconds, up to 10 years`)
}
