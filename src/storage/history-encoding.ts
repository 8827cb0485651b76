import { FIGURES } from '../model/figures'

/**
 * How history points are stored, for every figure of the registry (model/figures.ts): the
 * bucket's sum, its sample count and its peak, as integers of the figure's scale (a percentage
 * in hundredths, a temperature in tenths, rates in whole bytes/s) — SQLite stores such integers
 * in 1–4 bytes instead of 8 for a REAL. A figure keeps its own count, so a sample that lacked it
 * (a VM without sensors, a dropped value) neither counts as 0 nor dilutes the mean; a figure with
 * no sample in a bucket reads null. Sums are added with `+`, which SQLite turns into a REAL
 * rather than failing if it ever overflowed, and read with TOTAL(), which cannot overflow.
 */

/** One figure's stored value: round(value × scale), or null. */
export function encodeValues(values: readonly (number | null)[]): (number | null)[] {
  return FIGURES.map((figure, index) => {
    const value = values[index]
    return value === null || value === undefined ? null : Math.round(value * figure.scale)
  })
}

/** Column definitions of a history tier for one figure (storage/migrations.ts adds them). */
export const historyColumnsOf = (key: string) => [`${key}_sum INTEGER`, `${key}_n INTEGER NOT NULL DEFAULT 0`, `${key}_max INTEGER`]

/**
 * Counts one snapshot into a tier's bucket: one parameter per figure (?3…), the scaled value or
 * null. A missing value leaves the figure's sum, count and peak as they are.
 */
export function upsertPointSql(table: string): string {
  const columns = FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])
  const values = FIGURES.map((_, index) => `?${index + 3}, ?${index + 3} IS NOT NULL, ?${index + 3}`)
  const updates = FIGURES.map(({ key }) =>
    `${key}_sum = COALESCE(${key}_sum + excluded.${key}_sum, ${key}_sum, excluded.${key}_sum),
            ${key}_n = ${key}_n + excluded.${key}_n,
            ${key}_max = MAX(COALESCE(${key}_max, excluded.${key}_max), COALESCE(excluded.${key}_max, ${key}_max))`)
  return `INSERT INTO ${table} (node_id, timestamp, samples, ${columns.join(', ')})
          VALUES (?1, ?2, 1, ${values.join(', ')})
          ON CONFLICT (node_id, timestamp) DO UPDATE SET
            samples = samples + 1,
            ${updates.join(',\n            ')}`
}

const mean = (sum: string, count: string, scale: number) => `ROUND(${sum} * 1.0 / NULLIF(${count}, 0)) / ${scale}.0`

/** SELECT list for stored points as they are, in the API's units: `{field}` the mean, `{field}_max` the peak. */
export function pointColumns(figures: readonly (typeof FIGURES)[number][] = FIGURES): string {
  const columns = figures.map(({ key, field, scale }) =>
    `${mean(`${key}_sum`, `${key}_n`, scale)} AS ${field}, ${key}_max / ${scale}.0 AS ${field}_max`)
  return `timestamp * 1000 AS timestamp, ${columns.join(',\n')}`
}

/**
 * SELECT list for points grouped into buckets of `width` seconds (an SQL expression): the mean
 * over every sample of the group (sums and counts added up) and the peak of peaks.
 */
export function groupedPointColumns(width: string, figures: readonly (typeof FIGURES)[number][] = FIGURES): string {
  const columns = figures.map(({ key, field, scale }) =>
    `${mean(`TOTAL(${key}_sum)`, `TOTAL(${key}_n)`, scale)} AS ${field}, MAX(${key}_max) / ${scale}.0 AS ${field}_max`)
  return `timestamp / ${width} * ${width} * 1000 AS timestamp, ${columns.join(',\n')}`
}
