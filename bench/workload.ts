import { deriveFigures } from '../src/figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../src/figures/network'
import type { NodeRow } from '../src/storage/node-rows'
import { fleet } from '../src/simulator/fleet'

/**
 * Agent traffic prepared ahead of the timed phase, so the load generator costs little while the
 * master is measured. Each node's JSON is made once, with a hole for its timestamp; a round is
 * every cluster's snapshot at one timestamp, gzipped as an agent would send it.
 */
export interface Workload {
  clusters: { clusterId: string; nodes: { name: string; head: string; tail: string; row: Omit<NodeRow, 'snapshotMs' | 'json'> }[] }[]
  nodeCount: number
}

const TIMESTAMP_HOLE = /"timestamp":\d+/

export function workload(totalNodes: number, perSnapshot: number, prefix = ''): Workload {
  const clusters = fleet(Math.max(1, Math.round(totalNodes / perSnapshot)), perSnapshot).map(({ clusterId, nodes }) => ({
    clusterId: `${prefix}${clusterId}`,
    nodes: nodes.map((node) => {
      const snapshot = node.snapshot(Date.now())
      const json = JSON.stringify(snapshot)
      const hole = TIMESTAMP_HOLE.exec(json)!
      return {
        name: node.name,
        head: json.slice(0, hole.index + '"timestamp":'.length),
        tail: json.slice(hole.index + hole[0].length),
        row: rowFigures(`${prefix}${clusterId}`, node.name, snapshot),
      }
    }),
  }))
  return { clusters, nodeCount: clusters.length * perSnapshot }
}

const settings = { netExclude: new RegExp(DEFAULT_NET_EXCLUDE) }

function rowFigures(cluster: string, node: string, snapshot: Parameters<typeof deriveFigures>[0]): Omit<NodeRow, 'snapshotMs' | 'json'> {
  const { values, extras } = deriveFigures(snapshot, settings)
  return { cluster, node, values, ...extras }
}

export interface Request {
  clusterId: string
  nodes: number
  body: Uint8Array
}

/** One round: every cluster's snapshot with its nodes at `ts`, gzipped. */
export function round(load: Workload, ts: number): Request[] {
  return load.clusters.map(({ clusterId, nodes }) => {
    const nodeMetrics = nodes.map((node) => `${JSON.stringify(node.name)}:${node.head}${ts}${node.tail}`).join(',')
    const text = `{"cluster_id":${JSON.stringify(clusterId)},"fetched_at":${ts},"pods":[],"node_metrics":{${nodeMetrics}}}`
    return { clusterId, nodes: nodes.length, body: Bun.gzipSync(Buffer.from(text)) }
  })
}

/** The same round as rows for the writer, for the bare SQLite baseline. */
export function roundRows(load: Workload, ts: number): NodeRow[] {
  return load.clusters.flatMap(({ nodes }) => nodes.map((node) => ({ ...node.row, snapshotMs: ts, json: Buffer.from(`${node.head}${ts}${node.tail}`) })))
}
