import { jsonResponse } from '../http/errors'
import { parseExact } from '../json/exact-numbers'
import { meanOrNull, pairedTotals, present } from './summary'
import { ATLHYPER_ZERO_ITEMS, ATLHYPER_ZERO_NODE, type AtlHyperSummary } from '../model/atlhyper'
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
  const [totalMemory, usedMemory] = pairedTotals(rows, (row) => row.mem_total, (row) => row.mem_used)
  const [totalDisk, usedDisk] = pairedTotals(rows, (row) => row.disk_total, (row) => row.disk_used)
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
    total_memory: totalMemory,
    used_memory: usedMemory,
    total_disk: totalDisk,
    used_disk: usedDisk,
    total_network_rx: Math.round(sum(all((row) => row.net_rx))),
    total_network_tx: Math.round(sum(all((row) => row.net_tx))),
  }
}

/** `{ summary, nodes: [...] }`: each node in AtlHyper's shape (see `atlhyperNode`). */
export function atlhyperNodeList(summary: AtlHyperSummary, snapshots: readonly { snapshot: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [utf8.encode(`{"summary":${JSON.stringify(summary)},"nodes":[`)]
  snapshots.forEach((row, index) => {
    if (index > 0) parts.push(utf8.encode(','))
    parts.push(atlhyperNode(row.snapshot))
  })
  parts.push(utf8.encode(']}'))
  return concatBytes(parts)
}

/**
 * A stored node in AtlHyper's model_v2 shape, which AtlHyper's web UI reads without checking: a
 * node from AtlHyper's own agent already is, and is sent as its bytes; one from another agent (ours
 * leaves out what it did not measure, a model_v3 node has fewer fields) gets Go's zero values for
 * what it lacks, an epoch-millisecond timestamp becomes RFC 3339, and a process start time unix seconds.
 */
export function atlhyperNode(bytes: Uint8Array): Uint8Array {
  // Numbers JSON cannot hold exactly (int64 counters, 1e400) keep the agent's text.
  const node = parseExact(new TextDecoder().decode(bytes)) as Record<string, unknown>
  let changed = fillZeros(node, ATLHYPER_ZERO_NODE)
  if (typeof node.timestamp === 'number') {
    node.timestamp = new Date(node.timestamp).toISOString()
    changed = true
  }
  for (const process of Array.isArray(node.processes) ? node.processes : []) {
    if (typeof process?.start_time === 'string') {
      const ms = Date.parse(process.start_time)
      process.start_time = Number.isFinite(ms) ? Math.floor(ms / 1000) : 0
      changed = true
    }
  }
  return changed ? utf8.encode(JSON.stringify(node)) : bytes
}

/** Adds the zero value of every field `target` lacks (deeply, list elements included); true when it added any. */
function fillZeros(target: Record<string, unknown>, zero: Readonly<Record<string, unknown>>): boolean {
  let changed = false
  for (const [key, zeroValue] of Object.entries(zero)) {
    const value = target[key]
    if (value === undefined || (value === null && zeroValue !== null)) {
      target[key] = structuredClone(zeroValue)
      changed = true
    } else if (zeroValue !== null && typeof zeroValue === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      changed = fillZeros(value as Record<string, unknown>, zeroValue as Record<string, unknown>) || changed
    }
    const item = ATLHYPER_ZERO_ITEMS[key]
    if (item && Array.isArray(target[key])) {
      for (const element of target[key] as unknown[]) {
        if (element && typeof element === 'object') changed = fillZeros(element as Record<string, unknown>, item) || changed
      }
    }
  }
  return changed
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
