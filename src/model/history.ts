import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { FIGURE_FIELDS, FIGURES, type FigureField } from './figures'
import { numberOrNull } from './scalars'

const UNIT_NAMES: Record<string, string> = { '%': '%', '°C': '°C', 'B/s': 'bytes/s', '': 'no unit' }

/** Each registry figure's average and peak: `cpu_usage`, `cpu_usage_max`, … (null: no sample had it). */
const pointFields = Object.fromEntries(
  FIGURES.flatMap(({ field, unit, description }) => [
    [field, numberOrNull(`${description}, ${UNIT_NAMES[unit]}: the bucket's average over the samples that had it`)],
    [`${field}_max`, numberOrNull(`${description}, ${UNIT_NAMES[unit]}: the bucket's peak`)],
  ]),
) as { [K in FigureField | `${FigureField}_max`]: ReturnType<typeof numberOrNull> }

/**
 * One trend point: the bucket's start, and for each figure of the registry (model/figures.ts)
 * the average of the snapshots received in the bucket that reported it, and its peak.
 */
export const HistoryPoint = t.Object({
  timestamp: Type.Integer({ description: 'bucket start, epoch milliseconds' }),
  ...pointFields,
})
export type HistoryPoint = Static<typeof HistoryPoint>

export const METRICS = FIGURE_FIELDS
export type Metric = FigureField

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
  value: numberOrNull("the bucket's average (null: no sample had the figure)"),
  max: numberOrNull("the bucket's peak"),
})
export type FleetPoint = Static<typeof FleetPoint>

export const FleetHistory = t.Object({
  cluster_id: t.String(),
  metric: t.String(),
  ...RangeFields,
  nodes: t.Record(t.String(), t.Array(FleetPoint), { description: 'node name → its series, ascending' }),
})
export type FleetHistory = Static<typeof FleetHistory>
