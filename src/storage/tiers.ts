/**
 * History is kept in tiers: every snapshot counts into its SAMPLE_INTERVAL bucket (kept
 * RETENTION) and into its hour (kept RETENTION_HOURLY). Both hold the bucket's average (weighted
 * by its samples) and peak, so a coarser tier says exactly what its finer buckets would.
 */
export interface Tier {
  name: 'raw' | 'hourly'
  table: 'node_metrics_history' | 'node_metrics_history_hourly'
  intervalS: number
  retentionMs: number
}

export interface TierSettings {
  sampleIntervalMs: number
  retentionMs: number
  retentionHourlyMs: number
}

export function historyTiers(settings: TierSettings): Tier[] {
  return [
    { name: 'raw', table: 'node_metrics_history', intervalS: settings.sampleIntervalMs / 1000, retentionMs: settings.retentionMs },
    { name: 'hourly', table: 'node_metrics_history_hourly', intervalS: 3600, retentionMs: settings.retentionHourlyMs },
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
