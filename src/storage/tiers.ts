/**
 * History is kept in tiers: every snapshot counts into its SAMPLE_INTERVAL bucket (kept
 * RETENTION) and into its hour (kept RETENTION_HOURLY). Both hold the bucket's average (weighted
 * by its samples) and peak, so a coarser tier says exactly what its finer buckets would.
 *
 * A tier's open buckets are rows of `table`; once a span (a day of the raw tier, a week of the
 * hourly one) is over, the writer compacts each node's buckets of it into one row of
 * `chunkTable` (storage/compaction.ts, docs/history-chunks.md).
 */
export interface Tier {
  name: 'raw' | 'hourly'
  table: 'node_metrics_history' | 'node_metrics_history_hourly'
  chunkTable: 'node_metrics_history_chunks' | 'node_metrics_history_hourly_chunks'
  intervalS: number
  /** seconds one chunk covers, a multiple of intervalS; chunks start at multiples of it (epoch s) */
  spanS: number
  retentionMs: number
}

export interface TierSettings {
  sampleIntervalMs: number
  retentionMs: number
  retentionHourlyMs: number
}

const DAY_S = 86_400
/** Points per chunk at most: a SAMPLE_INTERVAL under 10 s makes raw chunks shorter than a day. */
const MAX_CHUNK_POINTS = 8_640

/** A day's worth of buckets (at least one, at most MAX_CHUNK_POINTS). */
export function chunkSpanS(intervalS: number): number {
  return intervalS * Math.max(1, Math.min(MAX_CHUNK_POINTS, Math.floor(DAY_S / intervalS)))
}

export function historyTiers(settings: TierSettings): Tier[] {
  const rawS = settings.sampleIntervalMs / 1000
  return [
    { name: 'raw', table: 'node_metrics_history', chunkTable: 'node_metrics_history_chunks', intervalS: rawS, spanS: chunkSpanS(rawS), retentionMs: settings.retentionMs },
    { name: 'hourly', table: 'node_metrics_history_hourly', chunkTable: 'node_metrics_history_hourly_chunks', intervalS: 3600, spanS: 7 * DAY_S, retentionMs: settings.retentionHourlyMs },
  ]
}

/**
 * The tier a query reads: the coarsest whose buckets still fit the step asked for and that
 * still holds the start of the range; the finest otherwise.
 */
export function chooseTier(tiers: readonly Tier[], startMs: number, stepS: number, now = Date.now()): Tier {
  const covering = tiers.filter((tier) => startMs >= now - tier.retentionMs)
  const fitting = covering.filter((tier) => tier.intervalS <= stepS)
  return fitting.at(-1) ?? covering[0] ?? tiers.at(-1)!
}
