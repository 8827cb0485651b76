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

/**
 * Fleet figures over a cluster's latest rows. Averages cover the online nodes that report the
 * figure, so neither a node without a CPU group nor one that stopped reporting skews them.
 * Ties go to the first node by name.
 */
export function summarize(rows: readonly Figures[], isStale: (row: Figures) => boolean = () => false): ClusterSummary {
  const online = rows.filter((row) => !isStale(row))
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length)
  const present = (pick: (row: Figures) => number | null, from = rows) =>
    from.map(pick).filter((value): value is number => value !== null)
  const sorted = [...rows].sort((a, b) => (a.node_name < b.node_name ? -1 : a.node_name > b.node_name ? 1 : 0))
  const top = (pick: (row: Figures) => number | null) =>
    sorted.reduce<Figures | undefined>((best, row) => {
      const value = pick(row)
      return value !== null && (best === undefined || value > pick(best)!) ? row : best
    }, undefined)
  const hottest = top((row) => row.temp)
  const fullest = top((row) => row.disk_max)
  const total = (pick: (row: Figures) => number | null) => present(pick).reduce((a, b) => a + b, 0)
  return {
    metrics_nodes: rows.length,
    online_nodes: online.length,
    stale_nodes: rows.length - online.length,
    avg_cpu: mean(present((row) => row.cpu, online)),
    avg_memory: mean(present((row) => row.mem, online)),
    max_temp: hottest?.temp ?? 0,
    max_temp_node: hottest?.node_name ?? '',
    max_disk: fullest?.disk_max ?? 0,
    max_disk_node: fullest?.node_name ?? '',
    max_disk_mount: fullest?.disk_max_mount ?? '',
    warning_nodes: rows.filter(isWarning).length,
    total_cores: total((row) => row.cores),
    total_mem_bytes: total((row) => row.mem_total),
    used_mem_bytes: total((row) => row.mem_used),
  }
}
