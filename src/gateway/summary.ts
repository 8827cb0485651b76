import type { ClusterSummary } from '../model'
import type { LatestFigures } from '../storage/metrics-reader'

export const WARNING_CPU_PERCENT = 80
export const WARNING_MEMORY_PERCENT = 80
export const WARNING_CPU_TEMP_CELSIUS = 75

type Figures = LatestFigures

const isWarning = (row: Figures) =>
  (row.cpu ?? 0) >= WARNING_CPU_PERCENT ||
  (row.mem ?? 0) >= WARNING_MEMORY_PERCENT ||
  (row.temp ?? -Infinity) >= WARNING_CPU_TEMP_CELSIUS

/** The mean of the values given, or null when there are none: an average of nothing is not 0. */
export const meanOrNull = (values: readonly number[]) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length)

/** The values of `pick` that rows report. */
export const present = (rows: readonly Figures[], pick: (row: Figures) => number | null) =>
  rows.map(pick).filter((value): value is number => value !== null)

/** Sums of a whole and its used part over the same rows (those reporting both), so that one over the other is true. */
export function pairedTotals(rows: readonly Figures[], whole: (row: Figures) => number | null, used: (row: Figures) => number | null): [number, number] {
  const both = rows.filter((row) => whole(row) !== null && used(row) !== null)
  const sum = (pick: (row: Figures) => number | null) => both.reduce((total, row) => total + pick(row)!, 0)
  return [sum(whole), sum(used)]
}

/** The row with the largest value of `pick` (ties: the first by name), or undefined when none reports it. */
export function top(rows: readonly Figures[], pick: (row: Figures) => number | null): Figures | undefined {
  const sorted = [...rows].sort((a, b) => (a.node_name < b.node_name ? -1 : a.node_name > b.node_name ? 1 : 0))
  return sorted.reduce<Figures | undefined>((best, row) => {
    const value = pick(row)
    return value !== null && (best === undefined || value > pick(best)!) ? row : best
  }, undefined)
}

/**
 * Fleet figures over a cluster's latest rows. Averages cover the online nodes that report the
 * figure, so neither a node without a CPU group nor one that stopped reporting skews them; a
 * figure no node reports reads null. Ties go to the first node by name.
 */
export function summarize(rows: readonly Figures[], isStale: (row: Figures) => boolean = () => false): ClusterSummary {
  const online = rows.filter((row) => !isStale(row))
  const hottest = top(rows, (row) => row.temp)
  const fullest = top(rows, (row) => row.disk_max)
  const total = (pick: (row: Figures) => number | null) => present(rows, pick).reduce((a, b) => a + b, 0)
  const [totalMemory, usedMemory] = pairedTotals(rows, (row) => row.mem_total, (row) => row.mem_used)
  return {
    metrics_nodes: rows.length,
    online_nodes: online.length,
    stale_nodes: rows.length - online.length,
    avg_cpu: meanOrNull(present(online, (row) => row.cpu)),
    avg_memory: meanOrNull(present(online, (row) => row.mem)),
    max_temp: hottest?.temp ?? null,
    max_temp_node: hottest?.node_name ?? null,
    max_disk: fullest?.disk_max ?? null,
    max_disk_node: fullest?.node_name ?? null,
    max_disk_mount: fullest?.disk_max_mount ?? null,
    warning_nodes: rows.filter(isWarning).length,
    total_cores: total((row) => row.cores),
    total_mem_bytes: totalMemory,
    used_mem_bytes: usedMemory,
  }
}
