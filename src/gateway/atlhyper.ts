import { jsonResponse, jsonTextResponse } from '../http/errors'
import { meanOrNull, present } from '../metrics/summary'
import type { AtlHyperSummary } from '../model/atlhyper'
import { FIGURES } from '../model/figures'
import type { HistoryPoint } from '../model'
import type { LatestFigures } from '../storage/metrics-reader'
import { concatBytes } from '../storage/node-rows'

/**
 * AtlHyper's read API in its own shapes (model/atlhyper.ts): the answers of its master's
 * gateway/handler/node_metrics.go, from this master's data. Its numbers cannot be null, so a
 * figure no node reports reads 0, as it did there.
 */

const utf8 = new TextEncoder()
const max = (values: number[]) => (values.length === 0 ? 0 : Math.max(...values))
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

/** AtlHyper's ClusterMetricsSummary. Averages cover online nodes (ours go by stale status), maxima and totals all nodes. */
export function atlhyperSummary(rows: readonly LatestFigures[], isStale: (row: LatestFigures) => boolean): AtlHyperSummary {
  const online = rows.filter((row) => !isStale(row))
  const all = (pick: (row: LatestFigures) => number | null) => present(rows, pick)
  const average = (pick: (row: LatestFigures) => number | null) => meanOrNull(present(online, pick)) ?? 0
  return {
    total_nodes: rows.length,
    online_nodes: online.length,
    offline_nodes: rows.length - online.length,
    avg_cpu_usage: average((row) => row.cpu),
    avg_memory_usage: average((row) => row.mem),
    avg_disk_usage: average((row) => row.disk),
    max_cpu_usage: max(all((row) => row.cpu)),
    max_memory_usage: max(all((row) => row.mem)),
    max_disk_usage: max(all((row) => row.disk)),
    avg_cpu_temp: average((row) => row.temp),
    max_cpu_temp: max(all((row) => row.temp)),
    total_memory: sum(all((row) => row.mem_total)),
    used_memory: sum(all((row) => row.mem_used)),
    total_disk: sum(all((row) => row.disk_total)),
    used_disk: sum(all((row) => row.disk_used)),
    total_network_rx: Math.round(sum(all((row) => row.net_rx))),
    total_network_tx: Math.round(sum(all((row) => row.net_tx))),
  }
}

/** `{ summary, nodes: [...] }`, the nodes' stored bytes joined as they are. */
export function atlhyperNodeList(summary: AtlHyperSummary, snapshots: readonly { snapshot: Uint8Array }[]): Response {
  const parts: Uint8Array[] = [utf8.encode(`{"summary":${JSON.stringify(summary)},"nodes":[`)]
  snapshots.forEach((row, index) => {
    if (index > 0) parts.push(utf8.encode(','))
    parts.push(row.snapshot)
  })
  parts.push(utf8.encode(']}'))
  return jsonTextResponse(concatBytes(parts))
}

/** `{ node_name, start, end, data }` with AtlHyper's MetricsDataPoint names and RFC 3339 times. */
export function atlhyperHistory(nodeName: string, startMs: number, endMs: number, points: readonly HistoryPoint[]): Response {
  const data = points.map((point) => ({
    timestamp: new Date(point.timestamp).toISOString(),
    node_name: nodeName,
    ...Object.fromEntries(FIGURES.map((figure) => [figure.atlhyper, point[figure.field] ?? 0])),
  }))
  return jsonResponse({ node_name: nodeName, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), data })
}
