import type { FleetPoint, HistoryPoint } from '../model'
import { FIGURES } from '../model/figures'

type Figure = (typeof FIGURES)[number]
type Column = (number | null)[]

/**
 * History buckets as stored, whether read from open rows or decoded from chunks, as columns:
 * per bucket its start (epoch s, ascending) and sample count, and per figure (registry order) its
 * sum, count (null: every sample had it) and peak, as scaled integers (storage/history-encoding.ts).
 * Columns, not an object per bucket: a 30-day answer is 8,640 buckets of 9 figures.
 */
export interface Buckets {
  /** the registry indexes held: every figure, or those a query asked for (a fleet chart needs one); the others' columns stay empty */
  figures: readonly number[]
  bucketS: number[]
  samples: number[]
  sums: Column[]
  counts: Column[]
  peaks: Column[]
}

export const ALL_FIGURES: readonly number[] = FIGURES.map((_, index) => index)

export const noBuckets = (figures: readonly number[] = ALL_FIGURES): Buckets => ({
  figures,
  bucketS: [],
  samples: [],
  sums: FIGURES.map(() => []),
  counts: FIGURES.map(() => []),
  peaks: FIGURES.map(() => []),
})

/** Appends `from`'s buckets [start, end) to `to` (whose buckets all come before them). */
export function appendBuckets(to: Buckets, from: Buckets, start = 0, end = from.bucketS.length): void {
  for (let i = start; i < end; i++) {
    to.bucketS.push(from.bucketS[i]!)
    to.samples.push(from.samples[i]!)
  }
  for (const f of to.figures) {
    const [sums, counts, peaks] = [from.sums[f]!, from.counts[f]!, from.peaks[f]!]
    const [toSums, toCounts, toPeaks] = [to.sums[f]!, to.counts[f]!, to.peaks[f]!]
    for (let i = start; i < end; i++) {
      toSums.push(sums[i]!)
      toCounts.push(counts[i]!)
      toPeaks.push(peaks[i]!)
    }
  }
}

/** A figure's sample count in bucket i: COALESCE(count, samples), as the row layout reads it. */
const countAt = (buckets: Buckets, f: number, i: number) => buckets.counts[f]![i] ?? buckets.samples[i]!

/**
 * Two ascending bucket sets as one; a bucket in both is what its row would hold had every sample
 * been counted into it: sums and counts add, peaks take the greater, a figure missing from one
 * side keeps the other's, and the count stays null only while every sample of both had the figure.
 */
export function mergeBuckets(a: Buckets, b: Buckets): Buckets {
  if (b.bucketS.length === 0) return a
  if (a.bucketS.length === 0) return b
  const out = noBuckets(a.figures)
  let i = 0
  let j = 0
  // Runs are copied whole: open rows usually all follow a node's chunks, a run of one each.
  while (i < a.bucketS.length || j < b.bucketS.length) {
    const x = a.bucketS[i]
    const y = b.bucketS[j]
    if (y === undefined || (x !== undefined && x < y)) {
      const start = i
      while (i < a.bucketS.length && (y === undefined || a.bucketS[i]! < y)) i++
      appendBuckets(out, a, start, i)
    } else if (x === undefined || y < x) {
      const start = j
      while (j < b.bucketS.length && (x === undefined || b.bucketS[j]! < x)) j++
      appendBuckets(out, b, start, j)
    } else {
      out.bucketS.push(x)
      out.samples.push(a.samples[i]! + b.samples[j]!)
      for (const f of out.figures) {
        const [sa, sb] = [a.sums[f]![i]!, b.sums[f]![j]!]
        out.sums[f]!.push(sa === null ? sb : sb === null ? sa : sa + sb)
        out.counts[f]!.push(a.counts[f]![i] === null && b.counts[f]![j] === null ? null : countAt(a, f, i) + countAt(b, f, j))
        const [pa, pb] = [a.peaks[f]![i]!, b.peaks[f]![j]!]
        out.peaks[f]!.push(pa === null ? pb : pb === null ? pa : Math.max(pa, pb))
      }
      i++
      j++
    }
  }
  return out
}

/**
 * SQLite's ROUND(x) with no digits: half away from zero, by adding ±0.5 and truncating — the
 * very double arithmetic its C code does, so answers are the ones the row layout's SQL gave. From
 * 2^52 on a double has no fraction, and SQLite leaves it as it is (adding 0.5 would round it up).
 */
export const sqliteRound = (x: number) => (Math.abs(x) >= 2 ** 52 ? x : x >= 0 ? Math.trunc(x + 0.5) : -Math.trunc(-x + 0.5))

/** A mean in the API's units, as the row layout read it: ROUND(sum * 1.0 / count) / scale.0 (count > 0). */
export const scaledMean = (sum: number, count: number, scale: number) => sqliteRound(sum / count) / scale

/**
 * A history point from its timestamp and values in field order (mean, peak per figure): an
 * object literal of one fixed shape, which the engine builds and serialises fastest.
 */
export const makePoint = new Function(
  'timestamp',
  'v',
  `return { timestamp, ${FIGURES.map(({ field }, f) => `${field}: v[${2 * f}], ${field}_max: v[${2 * f + 1}]`).join(', ')} }`,
) as (timestamp: number, values: (number | null)[]) => HistoryPoint

/**
 * The API's points for buckets of `widthS` seconds: the mean over every sample of the group
 * (sums and counts added up) and the peak of peaks. Field order and arithmetic are those of the
 * SQL the row layout was read with (ROUND(sum * 1.0 / NULLIF(count, 0)) / scale.0, TOTAL, MAX),
 * so the JSON is byte for byte the same.
 */
export function historyPoints(buckets: Buckets, intervalS: number, widthS: number): HistoryPoint[] {
  const points: HistoryPoint[] = []
  const values: (number | null)[] = new Array(2 * FIGURES.length)
  const n = buckets.bucketS.length
  if (widthS === intervalS) {
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < FIGURES.length; f++) {
        const scale = FIGURES[f]!.scale
        const sum = buckets.sums[f]![i]!
        const count = countAt(buckets, f, i)
        values[2 * f] = sum === null || count === 0 ? null : scaledMean(sum, count, scale)
        const peak = buckets.peaks[f]![i]!
        values[2 * f + 1] = peak === null ? null : peak / scale
      }
      points.push(makePoint(buckets.bucketS[i]! * 1000, values))
    }
    return points
  }
  forEachGroup(buckets, widthS, (startS, from, to) => {
    for (let f = 0; f < FIGURES.length; f++) {
      const { mean, peak } = groupFigure(buckets, f, from, to)
      values[2 * f] = mean
      values[2 * f + 1] = peak
    }
    points.push(makePoint(startS * 1000, values))
  })
  return points
}

/** One figure's points for buckets of `widthS` seconds, as a fleet chart takes them. */
export function fleetPoints(buckets: Buckets, figure: Figure, widthS: number): FleetPoint[] {
  const f = FIGURES.indexOf(figure)
  const points: FleetPoint[] = []
  forEachGroup(buckets, widthS, (startS, from, to) => {
    const { mean, peak } = groupFigure(buckets, f, from, to)
    points.push({ timestamp: startS * 1000, value: mean, max: peak })
  })
  return points
}

/** TOTAL(sum) / TOTAL(count) and MAX(peak) of buckets [from, to), in the API's units. */
function groupFigure(buckets: Buckets, f: number, from: number, to: number): { mean: number | null; peak: number | null } {
  const scale = FIGURES[f]!.scale
  let sum = 0
  let count = 0
  let peak: number | null = null
  for (let i = from; i < to; i++) {
    sum += buckets.sums[f]![i] ?? 0
    count += countAt(buckets, f, i)
    const value = buckets.peaks[f]![i]!
    if (value !== null && (peak === null || value > peak)) peak = value
  }
  // SQLite's TOTAL adds integers exactly and rounds once: a sum past 2^53 (a long roll-up of
  // rates near their bound) is added again exactly, as a double's running sum would drift.
  if (!Number.isSafeInteger(sum)) sum = exactTotal(buckets.sums[f]!, from, to) ?? sum
  return { mean: count === 0 ? null : scaledMean(sum, count, scale), peak: peak === null ? null : peak / scale }
}

/** The exact integer total as a double; undefined when a sum is not an integer (a REAL left by an overflow). */
function exactTotal(sums: Column, from: number, to: number): number | undefined {
  let total = 0n
  for (let i = from; i < to; i++) {
    const sum = sums[i] ?? 0
    if (!Number.isInteger(sum)) return undefined
    total += BigInt(sum)
  }
  return Number(total)
}

/** Calls `each` for every run of buckets [from, to) that share the start of a `widthS` group. */
function forEachGroup(buckets: Buckets, widthS: number, each: (startS: number, from: number, to: number) => void): void {
  const n = buckets.bucketS.length
  let from = 0
  while (from < n) {
    const startS = Math.floor(buckets.bucketS[from]! / widthS) * widthS
    let to = from + 1
    while (to < n && Math.floor(buckets.bucketS[to]! / widthS) * widthS === startS) to++
    each(startS, from, to)
    from = to
  }
}
