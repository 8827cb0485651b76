import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

const figure = (name: string, unit: string, what: string) => ({
  [name]: t.Number({ description: `${what}, ${unit}: the bucket's average` }),
  [`${name}_max`]: t.Number({ description: `${what}, ${unit}: the bucket's peak` }),
})

/**
 * One trend point: the bucket's start, and for each key figure the average of every snapshot
 * received in the bucket and its peak (DESIGN §5; the `_max` companions tell the spikes).
 */
export const HistoryPoint = t.Object({
  timestamp: Type.Integer({ description: 'bucket start, epoch milliseconds' }),
  ...figure('cpu_usage', '%', 'CPU usage'),
  ...figure('mem_usage', '%', 'memory usage'),
  ...figure('disk_usage', '%', 'primary disk (/ or the first) usage'),
  ...figure('temperature', '°C', 'CPU temperature'),
  ...figure('net_rx_bytes_ps', 'bytes/s', 'received over up, non-loopback interfaces'),
  ...figure('net_tx_bytes_ps', 'bytes/s', 'sent over up, non-loopback interfaces'),
})
export type HistoryPoint = Static<typeof HistoryPoint>

export const METRICS = ['cpu_usage', 'mem_usage', 'disk_usage', 'temperature', 'net_rx_bytes_ps', 'net_tx_bytes_ps'] as const
export type Metric = (typeof METRICS)[number]

/** Query parameters that pick a time range and its resolution. Elysia's t.Integer coerces query text. */
const RangeQuery = {
  hours: t.Optional(
    t.Integer({ minimum: 1, maximum: 720, description: 'hours of history to return, an integer from 1 to 720 (default 24)' }),
  ),
  start: t.Optional(t.String({ description: 'range start: epoch milliseconds or RFC 3339 (instead of hours)' })),
  end: t.Optional(t.String({ description: 'range end: epoch milliseconds or RFC 3339 (default: now)' })),
  step: t.Optional(t.String({ description: 'bucket width, e.g. 15m, 1h, or seconds; points are averaged (and peaks kept) per bucket' })),
  max_points: t.Optional(
    t.Integer({ minimum: 2, maximum: 10_000, description: 'max_points: at most this many points (buckets widen to fit), an integer from 2 to 10000' }),
  ),
}

export const HistoryQuery = t.Object(RangeQuery)
export type HistoryQuery = Static<typeof HistoryQuery>

const RangeFields = {
  hours: Type.Integer({ description: 'hours the range spans (rounded up)' }),
  start: Type.Integer({ description: 'range start, epoch milliseconds' }),
  end: Type.Integer({ description: 'range end, epoch milliseconds' }),
  step: Type.Integer({ description: 'bucket width, seconds' }),
  tier: t.Union([t.Literal('raw'), t.Literal('hourly')], {
    description: 'raw: SAMPLE_INTERVAL buckets (kept RETENTION); hourly: hour buckets (kept RETENTION_HOURLY)',
  }),
}

export const NodeHistory = t.Object({
  node_name: t.String(),
  ...RangeFields,
  points: Type.Integer({ description: 'number of points in history' }),
  history: t.Array(HistoryPoint, { description: 'ascending by timestamp' }),
})
export type NodeHistory = Static<typeof NodeHistory>

export const FleetHistoryQuery = t.Object({
  metric: t.Union(METRICS.map((metric) => t.Literal(metric)), { description: `one of ${METRICS.join(', ')}` }),
  ...RangeQuery,
})

export const FleetPoint = t.Object({
  timestamp: Type.Integer({ description: 'bucket start, epoch milliseconds' }),
  value: t.Number({ description: "the bucket's average" }),
  max: t.Number({ description: "the bucket's peak" }),
})
export type FleetPoint = Static<typeof FleetPoint>

export const FleetHistory = t.Object({
  cluster_id: t.String(),
  metric: t.String(),
  ...RangeFields,
  nodes: t.Record(t.String(), t.Array(FleetPoint), { description: 'node name → its series, ascending' }),
})
export type FleetHistory = Static<typeof FleetHistory>
