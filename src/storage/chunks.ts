import { FIGURES } from '../model/figures'
import type { HistoryPoint } from '../model'
import { makePoint, scaledMean, type Buckets } from './buckets'
import { ByteWriter, decodeColumn, packBlob, readColumnInto, unpackBlob, writeColumn } from './chunk-codec'
import type { Tier } from './tiers'

/**
 * History chunks: one row per (node, span) of a tier, columns per figure (docs/history-chunks.md).
 * `buckets` holds each point's bucket start as seconds after the chunk's start, `samples` its
 * sample count, and each figure's column its sums, counts and peaks; a figure no point of the
 * chunk had is NULL.
 */
export interface ChunkRow {
  start_s: number
  end_s: number
  points: number
  buckets: Uint8Array
  samples: Uint8Array
  [figure: string]: Uint8Array | number | null
}

/** Columns of a chunk row in the order `encodeChunk` gives their values. */
export const CHUNK_COLUMNS = ['node_id', 'start_s', 'end_s', 'points', 'buckets', 'samples', ...FIGURES.map((figure) => figure.key)]

/** The columns a read of some figures needs (only theirs: a chunk's other figure blobs stay unread). */
export const chunkColumns = (figures: readonly number[]) =>
  ['start_s', 'end_s', 'points', 'buckets', 'samples', ...figures.map((f) => FIGURES[f]!.key)].join(', ')

/** Where a new chunk with this bucket starts: the start of its span (older chunks, of another SAMPLE_INTERVAL, may differ). */
export const chunkStartOf = (tier: Tier, bucketS: number) => Math.floor(bucketS / tier.spanS) * tier.spanS

/** A figure no bucket had: no sum, no peak, and counted in none (as a row's `{key}_n` of 0 says). */
const absent = (buckets: Buckets, f: number) =>
  buckets.sums[f]!.every((sum) => sum === null) && buckets.peaks[f]!.every((peak) => peak === null) && buckets.counts[f]!.every((count) => count === 0)

/** A chunk's column values (after node_id and start_s): end_s, points, buckets, samples, one blob or null per figure. */
export function encodeChunk(startS: number, endS: number, buckets: Buckets): (number | Uint8Array | null)[] {
  const offsets = new ByteWriter()
  writeColumn(offsets, buckets.bucketS.map((bucketS) => bucketS - startS))
  const samples = new ByteWriter()
  writeColumn(samples, buckets.samples)
  const figures = FIGURES.map((_, f) => {
    if (absent(buckets, f)) return null
    const column = new ByteWriter()
    writeColumn(column, buckets.sums[f]!)
    writeColumn(column, buckets.counts[f]!)
    writeColumn(column, buckets.peaks[f]!)
    return packBlob(column)
  })
  return [endS, buckets.bucketS.length, packBlob(offsets), packBlob(samples), ...figures]
}

/** A chunk's bucket offsets (seconds after start_s), and the run [first, end) of them whose buckets start in [fromS, toS): buckets ascend. */
function bucketsIn(row: ChunkRow, fromS: number, toS: number): { offsets: Float64Array; first: number; end: number } {
  const n = row.points
  const offsets = new Float64Array(n)
  decodeColumn(unpackBlob(row.buckets), n, offsets)
  let first = 0
  while (first < n && row.start_s + offsets[first]! < fromS) first++
  let end = first
  while (end < n && row.start_s + offsets[end]! < toS) end++
  return { offsets, first, end }
}

/**
 * Appends the buckets of a chunk whose start lies in [fromS, toS) to `to` (whose buckets all come
 * before them), for the figures `to` holds.
 */
export function decodeChunk(row: ChunkRow, to: Buckets, fromS = -Infinity, toS = Infinity): void {
  const n = row.points
  const { offsets, first, end } = bucketsIn(row, fromS, toS)
  if (first === end) return
  for (let i = first; i < end; i++) to.bucketS.push(row.start_s + offsets[i]!)
  readColumnInto(unpackBlob(row.samples), n, to.samples, first, end)
  for (const f of to.figures) {
    const blob = row[FIGURES[f]!.key] as Uint8Array | null | undefined
    if (!blob) {
      for (let i = first; i < end; i++) {
        to.sums[f]!.push(null)
        to.counts[f]!.push(0)
        to.peaks[f]!.push(null)
      }
      continue
    }
    const input = unpackBlob(blob)
    readColumnInto(input, n, to.sums[f]!, first, end)
    readColumnInto(input, n, to.counts[f]!, first, end)
    readColumnInto(input, n, to.peaks[f]!, first, end)
  }
}

/**
 * The API's points of a chunk's buckets in [fromS, toS) at the tier's own width, appended to
 * `points`: the plain read's path (a 30-day answer is 8,640 points), straight from the decoded
 * columns to the points, as storage/buckets.ts historyPoints computes them from bucket columns.
 */
export function chunkPoints(row: ChunkRow, fromS: number, toS: number, points: HistoryPoint[]): void {
  const n = row.points
  const column = () => new Float64Array(n)
  const { offsets, first, end } = bucketsIn(row, fromS, toS)
  if (first === end) return
  const samples = column()
  decodeColumn(unpackBlob(row.samples), n, samples)
  // Per figure its means and peaks in the API's units, NaN for null.
  const means: Float64Array[] = []
  const peaks: Float64Array[] = []
  const sums = column()
  const counts = column()
  for (const figure of FIGURES) {
    const [mean, peak] = [column(), column()]
    means.push(mean)
    peaks.push(peak)
    const blob = row[figure.key] as Uint8Array | null | undefined
    if (!blob) {
      mean.fill(NaN)
      peak.fill(NaN)
      continue
    }
    const input = unpackBlob(blob)
    decodeColumn(input, n, sums)
    decodeColumn(input, n, counts)
    decodeColumn(input, n, peak)
    for (let i = first; i < end; i++) {
      // COALESCE(count, samples); a missing sum or a count of 0 is a missing mean.
      const count = Number.isNaN(counts[i]!) ? samples[i]! : counts[i]!
      mean[i] = count === 0 ? NaN : scaledMean(sums[i]!, count, figure.scale)
      peak[i] = peak[i]! / figure.scale
    }
  }
  const values: (number | null)[] = new Array(2 * FIGURES.length)
  for (let i = first; i < end; i++) {
    for (let f = 0; f < FIGURES.length; f++) {
      const [mean, peak] = [means[f]![i]!, peaks[f]![i]!]
      values[2 * f] = Number.isNaN(mean) ? null : mean
      values[2 * f + 1] = Number.isNaN(peak) ? null : peak
    }
    points.push(makePoint((row.start_s + offsets[i]!) * 1000, values))
  }
}

/** The raw columns of a tier's rows, for `appendRow`: bucket start, samples, then sum, count, peak of each figure asked for. */
export const rowColumns = (figures: readonly number[]) =>
  ['bucket_s', 'samples', ...figures.flatMap((f) => [`${FIGURES[f]!.key}_sum`, `${FIGURES[f]!.key}_n`, `${FIGURES[f]!.key}_max`])].join(', ')

/** Appends a row read with `rowColumns(to.figures)` through `.values()` (rows come in bucket order). */
export function appendRow(to: Buckets, values: readonly unknown[]): void {
  to.bucketS.push(values[0] as number)
  to.samples.push(values[1] as number)
  to.figures.forEach((f, k) => {
    to.sums[f]!.push(values[2 + k * 3] as number | null)
    to.counts[f]!.push(values[3 + k * 3] as number | null)
    to.peaks[f]!.push(values[4 + k * 3] as number | null)
  })
}
