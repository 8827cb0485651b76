/**
 * History points are stored as small integers: a percentage in hundredths, a temperature in
 * tenths of a degree, rates in whole bytes/s and the bucket start in seconds. SQLite stores
 * such integers in 1–4 bytes instead of 8 for a REAL, which keeps a point under 40 bytes on disk.
 */
export const PERCENT_SCALE = 100
export const CELSIUS_SCALE = 10

const scaled = (value: number | null, scale: number) => (value === null ? null : Math.round(value * scale))

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

/** SELECT list that turns a stored row back into the API's HistoryPoint (missing figures read 0). */
export const DECODED_POINT_COLUMNS = `
  timestamp * 1000                            AS timestamp,
  COALESCE(cpu, 0)  * 1.0 / ${PERCENT_SCALE}  AS cpu_usage,
  COALESCE(mem, 0)  * 1.0 / ${PERCENT_SCALE}  AS mem_usage,
  COALESCE(disk, 0) * 1.0 / ${PERCENT_SCALE}  AS disk_usage,
  COALESCE(temp, 0) * 1.0 / ${CELSIUS_SCALE}  AS temperature,
  COALESCE(net_rx, 0) * 1.0                   AS net_rx_bytes_ps,
  COALESCE(net_tx, 0) * 1.0                   AS net_tx_bytes_ps`
