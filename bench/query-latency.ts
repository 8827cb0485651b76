import { percentile } from '../src/simulator/stats'
import { SimulatedNode, clusterBody } from '../src/simulator/fleet'
import type { MasterProcess } from '../test/support/master-process'
import { post } from './http-load'

/** The routes a dashboard reads, each timed by `latencies`, and their p99 targets. */
export const QUERY_TARGETS_MS: Record<string, number> = { nodeList: 50, nodeListAfterCommit: 50, nodeDetail: 5, history24h: 5, history30d: 10 }

export type LatencyFigures = Record<string, { p50: number; p99: number }>

/**
 * Query latency against a master holding a pre-filled cluster (bench/prefill.ts, or
 * bench/postgres/prefill.ts): `latencies(samples)` times each route, one request at a time.
 */
export function queryLatency(master: MasterProcess, filled: { clusterId: string; nodeNames: string[] }) {
  const pick = (index: number) => filled.nodeNames[(index * 7919) % filled.nodeNames.length]!
  const base = `${master.api}/api/v2/clusters/${filled.clusterId}/node-metrics`
  // The node list is cached per cluster until the cluster changes: `nodeList` is what a dashboard
  // polling between two agent posts sees, `nodeListAfterCommit` the first read after a commit.
  let changes = 0
  async function changeQueriedCluster(index: number) {
    const node = new SimulatedNode(pick(index))
    const body = clusterBody(filled.clusterId, [node.snapshot(Date.now() - 5_000 + ++changes)])
    const response = await post(master.ingest, { clusterId: filled.clusterId, nodes: 1, body: Bun.gzipSync(Buffer.from(body)) })
    if (response.status !== 200) throw new Error(`posting to the queried cluster answered ${response.status}`)
  }
  const queries: Record<string, (index: number) => string> = {
    nodeList: () => base,
    nodeListAfterCommit: () => base,
    nodeDetail: (index) => `${base}/${pick(index)}`,
    history24h: (index) => `${base}/${pick(index)}/history?hours=24`,
    history30d: (index) => `${base}/${pick(index)}/history?hours=720`,
  }

  async function latencies(samples: number): Promise<LatencyFigures> {
    const figures: LatencyFigures = {}
    for (const [name, url] of Object.entries(queries)) {
      for (let i = 0; i < 5; i++) await (await fetch(url(i))).arrayBuffer()
      const times: number[] = []
      for (let i = 0; i < samples; i++) {
        if (name === 'nodeListAfterCommit') await changeQueriedCluster(i)
        const started = performance.now()
        const response = await fetch(url(i))
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`${url(i)} answered ${response.status}`)
        times.push(performance.now() - started)
      }
      times.sort((a, b) => a - b)
      figures[name] = { p50: Number(percentile(times, 50)!.toFixed(2)), p99: Number(percentile(times, 99)!.toFixed(2)) }
    }
    return figures
  }

  return { names: Object.keys(queries), pick, latencies }
}
