import { FIGURES } from '../../src/model/figures'

const BUCKET_S = 300
const DAY_S = 86_400
/** samples per 5-minute bucket, as bench/prefill.ts stores them */
const SAMPLES = 60

/** The series of one history point, per figure: the bucket's average, peak and sample count. */
export const HISTORY_STATS = ['avg', 'max', 'count'] as const
export const SERIES_PER_POINT = FIGURES.length * HISTORY_STATS.length
export const historyMetric = (field: string, stat: (typeof HISTORY_STATS)[number]) => `history_${field}_${stat}`
/** What the master's history answer holds: every figure's average and peak. */
export const HISTORY_QUERY_NAMES = `history_.+_(avg|max)`
export const HISTORY_QUERY_SERIES = FIGURES.length * 2

/**
 * One node's `days` of 5-minute history points, ending at the current bucket.
 *
 * THE FORMULA MUST MATCH bench/prefill.ts (`fillNode`): the same waves, noise and peaks, so that
 * VictoriaMetrics stores the very figures the master's storage bench stores
 * (test/bench-peer-history.test.ts compares them with the master's answer). `id` is the node's
 * row id there: the latest rows are written in node order, so node i (from 0) has id i + 1.
 * `rounded`: the averages and peaks rounded to the figure's scale (hundredths of a %, tenths of
 * a °C, whole B/s) as the master stores them; otherwise full double precision.
 */
export function historySeries(id: number, days: number, now: number, rounded: boolean) {
  const last = Math.floor(now / 1000 / BUCKET_S) * BUCKET_S
  const first = last - days * DAY_S
  const timestamps: number[] = []
  const averages: number[][] = FIGURES.map(() => [])
  const peaks: number[][] = FIGURES.map(() => [])
  const keep = rounded ? Math.round : (value: number) => value
  for (let ts = first; ts <= last; ts += BUCKET_S) {
    timestamps.push(ts * 1000)
    const day = Math.sin((2 * Math.PI * ts) / DAY_S + id)
    FIGURES.forEach((figure, index) => {
      const wave = 0.6 + 0.35 * day + 0.05 * Math.sin(ts / 977 + id * 13 + index)
      const typical = { '%': 80, '°C': 70, 'B/s': 3e6, '': 4 }[figure.unit] ?? 1
      const average = keep(typical * wave * figure.scale * (figure.key === 'disk' ? 1 + (ts - first) / (days * DAY_S) / 10 : 1) * 0.9)
      const peak = keep(average * (1.05 + 0.3 * Math.abs(Math.sin(ts / 613 + index))))
      // Stored in the figure's own unit (45.67 %, not 4567 hundredths), as a VictoriaMetrics user would.
      averages[index]!.push(average / figure.scale)
      peaks[index]!.push(peak / figure.scale)
    })
  }
  return { timestamps, averages, peaks }
}

/** The timestamps and counts of every node's series (they are the same for all nodes). */
export function sharedParts(series: ReturnType<typeof historySeries>) {
  return { timestamps: series.timestamps.join(','), counts: series.timestamps.map(() => SAMPLES).join(',') }
}

/**
 * One node's history as import JSON lines: per figure its average, peak and count series.
 * `shared` is what every node's lines have in common, made once: the timestamps and the counts.
 */
export function historyLines(clusterId: string, node: string, series: ReturnType<typeof historySeries>, shared: { timestamps: string; counts: string }): string {
  const labels = `"cluster":${JSON.stringify(clusterId)},"node":${JSON.stringify(node)}`
  const line = (name: string, values: string) => `{"metric":{"__name__":"${name}",${labels}},"values":[${values}],"timestamps":[${shared.timestamps}]}\n`
  return FIGURES.map(
    (figure, index) =>
      line(historyMetric(figure.field, 'avg'), series.averages[index]!.join(',')) +
      line(historyMetric(figure.field, 'max'), series.peaks[index]!.join(',')) +
      line(historyMetric(figure.field, 'count'), shared.counts),
  ).join('')
}
