import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

/** One trend point: the bucket's start and the node's key figures in it (DESIGN §5). */
export const HistoryPoint = t.Object({
  timestamp: Type.Integer({ description: 'bucket start, epoch milliseconds' }),
  cpu_usage: t.Number({ description: 'CPU usage, %' }),
  mem_usage: t.Number({ description: 'memory usage, %' }),
  disk_usage: t.Number({ description: 'primary disk (/ or the first) usage, %' }),
  temperature: t.Number({ description: 'CPU temperature, °C' }),
  net_rx_bytes_ps: t.Number({ description: 'received bytes/s over up, non-loopback interfaces' }),
  net_tx_bytes_ps: t.Number({ description: 'sent bytes/s over up, non-loopback interfaces' }),
})
export type HistoryPoint = Static<typeof HistoryPoint>

/** Elysia's t.Integer: it takes the query string's text and coerces it. */
export const HistoryQuery = t.Object({
  hours: t.Optional(
    t.Integer({ minimum: 1, maximum: 720, default: 24, description: 'hours of history to return, an integer from 1 to 720 (default 24)' }),
  ),
})

export const NodeHistory = t.Object({
  node_name: t.String(),
  hours: Type.Integer(),
  points: Type.Integer({ description: 'number of points in history' }),
  history: t.Array(HistoryPoint, { description: 'ascending by timestamp' }),
})
export type NodeHistory = Static<typeof NodeHistory>
