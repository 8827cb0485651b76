import { FIGURES } from '../model/figures'

/**
 * How history points are stored, for every figure of the registry (model/figures.ts): the
 * bucket's sum, its sample count and its peak, as integers of the figure's scale (a percentage
 * in hundredths, a temperature in tenths, rates in whole bytes/s) — SQLite stores such integers
 * in 1–4 bytes instead of 8 for a REAL. A figure keeps its own count, so a sample that lacked it
 * (a VM without sensors, a dropped value) neither counts as 0 nor dilutes the mean; a figure with
 * no sample in a bucket reads null. Sums are added with `+`, which SQLite turns into a REAL
 * rather than failing if it ever overflowed, and read with TOTAL(), which cannot overflow.
 *
 * The count is stored as NULL while every sample of the bucket had the figure — nearly always — so
 * it costs one header byte and no data; read it as COALESCE(count, samples). A column added for a
 * new figure defaults to 0: the buckets written before it had none.
 */

/** One figure's stored value: round(value × scale), or null. */
export function encodeValues(values: readonly (number | null)[]): (number | null)[] {
  return FIGURES.map((figure, index) => {
    const value = values[index]
    return value === null || value === undefined ? null : Math.round(value * figure.scale)
  })
}

/** Column definitions of a history tier for one figure (storage/migrations.ts adds them). */
export const historyColumnsOf = (key: string) => [`${key}_sum INTEGER`, `${key}_n INTEGER DEFAULT 0`, `${key}_max INTEGER`]

/** A figure's sample count in a bucket, as an SQL expression. */
export const countOf = (key: string) => `COALESCE(${key}_n, samples)`

/**
 * Counts one snapshot into a tier's bucket: one parameter per figure (?3…), the scaled value or
 * null. A missing value leaves the figure's sum, count and peak as they are.
 */
export function upsertPointSql(table: string): string {
  const columns = FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])
  // A first sample with the figure: count NULL (all of one); without it: 0.
  const values = FIGURES.map((_, index) => `?${index + 3}, CASE WHEN ?${index + 3} IS NULL THEN 0 END, ?${index + 3}`)
  // The right-hand sides see the row as it was; `samples` is the count before this sample.
  const updates = FIGURES.map(({ key }) =>
    `${key}_sum = COALESCE(${key}_sum + excluded.${key}_sum, ${key}_sum, excluded.${key}_sum),
            ${key}_n = CASE WHEN excluded.${key}_sum IS NULL THEN ${countOf(key)} WHEN ${key}_n IS NULL THEN NULL ELSE ${key}_n + 1 END,
            ${key}_max = MAX(COALESCE(${key}_max, excluded.${key}_max), COALESCE(excluded.${key}_max, ${key}_max))`)
  return `INSERT INTO ${table} (node_id, bucket_s, samples, ${columns.join(', ')})
          VALUES (?1, ?2, 1, ${values.join(', ')})
          ON CONFLICT (node_id, bucket_s) DO UPDATE SET
            samples = samples + 1,
            ${updates.join(',\n            ')}`
}
