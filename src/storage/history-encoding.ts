/**
 * History points are stored as small integers: a percentage in hundredths, a temperature in
 * tenths of a degree, rates in whole bytes/s and the bucket start in seconds. SQLite stores
 * such integers in 1–4 bytes instead of 8 for a REAL, which keeps a point under 40 bytes on disk.
 */
export const PERCENT_SCALE = 100
export const CELSIUS_SCALE = 10

const scaled = (value: number | null, scale: number) => (value === null ? null : Math.round(value * scale))

/** The figures of a point, as stored columns: each has an average column and a `_max` column. */
export const FIGURE_COLUMNS = ['cpu', 'mem', 'disk', 'temp', 'net_rx', 'net_tx'] as const
export type FigureColumn = (typeof FIGURE_COLUMNS)[number]

/** API field ← column, and the scale the column holds it in. */
export const FIGURE_FIELDS: Record<FigureColumn, { field: string; scale: number }> = {
  cpu: { field: 'cpu_usage', scale: PERCENT_SCALE },
  mem: { field: 'mem_usage', scale: PERCENT_SCALE },
  disk: { field: 'disk_usage', scale: PERCENT_SCALE },
  temp: { field: 'temperature', scale: CELSIUS_SCALE },
  net_rx: { field: 'net_rx_bytes_ps', scale: 1 },
  net_tx: { field: 'net_tx_bytes_ps', scale: 1 },
}

export interface EncodedPoint {
  cpu: number | null
  mem: number | null
  disk: number | null
  temp: number | null
  netRx: number | null
  netTx: number | null
}

export function encodePoint(figures: {
  cpu: number | null
  mem: number | null
  diskPrimary: number | null
  temp: number | null
  netRx: number | null
  netTx: number | null
}): EncodedPoint {
  return {
    cpu: scaled(figures.cpu, PERCENT_SCALE),
    mem: scaled(figures.mem, PERCENT_SCALE),
    disk: scaled(figures.diskPrimary, PERCENT_SCALE),
    temp: scaled(figures.temp, CELSIUS_SCALE),
    netRx: scaled(figures.netRx, 1),
    netTx: scaled(figures.netTx, 1),
  }
}

/** SELECT list for stored points as they are, in the API's units (missing read 0; a missing peak is the average). */
export function pointColumns(): string {
  const figures = FIGURE_COLUMNS.map((column) => {
    const { field, scale } = FIGURE_FIELDS[column]
    return `COALESCE(${column}, 0) / ${scale}.0 AS ${field}, COALESCE(${column}_max, ${column}, 0) / ${scale}.0 AS ${field}_max`
  })
  return `timestamp * 1000 AS timestamp, ${figures.join(',\n')}`
}

/**
 * SELECT list for points grouped into buckets of `width` seconds: the average of averages
 * weighted by their samples and the peak of peaks, back in the API's units (missing read 0).
 * With the tier's own width every group is one stored point.
 */
export function groupedPointColumns(width: string): string {
  const figures = FIGURE_COLUMNS.map((column) => {
    const { field, scale } = FIGURE_FIELDS[column]
    const weight = `CASE WHEN ${column} IS NULL THEN 0 ELSE samples END`
    return `COALESCE(ROUND(SUM(${column} * samples) * 1.0 / NULLIF(SUM(${weight}), 0)) / ${scale}.0, 0) AS ${field},
            COALESCE(MAX(COALESCE(${column}_max, ${column})) / ${scale}.0, 0) AS ${field}_max`
  })
  return `timestamp / ${width} * ${width} * 1000 AS timestamp, ${figures.join(',\n')}`
}
