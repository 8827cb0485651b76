import { Type, type StaticDecode } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { FIGURE_FIELDS, FIGURES, type FigureField } from './figures'
import { numberOrNull } from './scalars'
import { DecimalInteger } from './query'

/**
 * One fleet-history answer holds at most this many values (nodes × points): 30 days of 5-minute
 * points for 1,000 nodes once built a 463 MB answer in 58 s. Past it the query is refused
 * before it runs.
 */
export const MAX_FLEET_VALUES = 200_000
/** Fleet history without `step` or `max_points`: a chart's worth of points, not every bucket. */
export const DEFAULT_FLEET_POINTS = 300

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

const time = (what: string) =>
  `${what}: RFC 3339, or a bare number — epoch seconds when below 10^11 (1e11 ms would be 1973), epoch milliseconds otherwise`

/**
 * Query parameters that pick a time range and its resolution. Integers are plain decimal digits
 * (model/query.ts): `0x10`, `1e1` or `5.0` are refused, not read as numbers.
 */
const RangeQuery = {
  hours: t.Optional(
    DecimalInteger({ minimum: 1, maximum: 720, default: 24, description: 'hours of history up to `end`, an integer from 1 to 720 (default 24; not with start)' }),
  ),
  start: t.Optional(t.String({ description: time('range start (instead of hours)') })),
  end: t.Optional(t.String({ description: time('range end (default: now)') })),
  step: t.Optional(t.String({ description: 'bucket width, e.g. 15m, 1h, or seconds; points are averaged (and peaks kept) per bucket' })),
}

const maxPoints = (description: string, fallback?: number) =>
  t.Optional(DecimalInteger({ minimum: 2, maximum: 10_000, ...(fallback === undefined ? {} : { default: fallback }), description }))

export const HistoryQuery = t.Object({
  ...RangeQuery,
  max_points: maxPoints('at most this many points (buckets widen to fit), an integer from 2 to 10000; without it and step, every SAMPLE_INTERVAL point'),
})
export type HistoryQuery = StaticDecode<typeof HistoryQuery>

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
  max_points: maxPoints(
    `at most this many points per node (buckets widen to fit), an integer from 2 to 10000. Without it and step: ` +
      `${DEFAULT_FLEET_POINTS}, or fewer on a cluster so large that nodes × points would pass ${MAX_FLEET_VALUES}`,
    DEFAULT_FLEET_POINTS,
  ),
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
