import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { DataHub } from '../src/datahub/datahub'
import { FleetStatus } from '../src/gateway/status'
import { ClusterDirectory } from '../src/gateway/directory'
import type { HubToGateway } from '../src/gateway/messages'
import { encodeRows } from '../src/storage/node-rows'
import { disposeMaster, getJson, postSnapshot, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'
import { waitFor } from './support/wait'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

async function post(clusterId: string, nodes: [string, number][]) {
  const snapshot = clusterSnapshot(clusterId, nodes.map(([name, cpu]) => nodeSnapshot(name, Date.now() - 100, { cpu })))
  expect((await postSnapshot(master!.ingest, snapshot, { clusterId })).status).toBe(200)
}

describe('stale nodes', () => {
  test('a node that stops reporting turns stale and leaves the averages; it comes back online', async () => {
    master = await startTestMaster({ STALE_AFTER: '1s' })
    await post('c', [['a', 20], ['b', 80]])
    const list = async () => (await getJson(`${master!.api}/api/v2/clusters/c/node-metrics`)).body
    expect((await list()).node_status).toEqual({ a: 'online', b: 'online' })
    expect((await list()).summary).toMatchObject({ online_nodes: 2, stale_nodes: 0, avg_cpu: 50 })
    for (let i = 0; i < 4; i++) {
      await Bun.sleep(400)
      await post('c', [['a', 20]])
    }
    const stale = await list()
    expect(stale.node_status).toEqual({ a: 'online', b: 'stale' })
    expect(stale.summary).toMatchObject({ metrics_nodes: 2, online_nodes: 1, stale_nodes: 1, avg_cpu: 20 })
    expect(Object.keys(stale.nodes)).toEqual(['a', 'b']) // still listed, with its last metrics
    await post('c', [['b', 60]])
    expect((await list()).summary).toMatchObject({ online_nodes: 2, stale_nodes: 0, avg_cpu: 40 })
  })

  test('by default the threshold is 3 × the interval observed between committed snapshots, at least 15 s', () => {
    const toGateway: HubToGateway[] = []
    const clusters = new ClusterDirectory()
    const hub = new DataHub(
      { toIngest: () => {}, toWriter: () => true, toGateway: (message) => void toGateway.push(message) },
      { writeQueueLimit: 100, maxClusters: 10, retentionMs: 86_400_000, agentExpireMs: 45_000 },
    )
    const status = new FleetStatus(clusters, { staleAfterMs: undefined, agentExpireMs: 45_000 })
    let batch = 0
    const arrive = (at: number) => hub.onIngest({
      type: 'snapshot', request: ++batch, clusterId: 'c', receivedMs: at, envelope: new Uint8Array(), gzipped: false,
      rows: encodeRows([]), nodes: 1,
    })
    const commit = () => {
      hub.onWriter({ type: 'committed', batches: [batch], stored: [1], rows: 1, ms: 1 })
      hub.flush()
      for (const message of toGateway.splice(0)) if (message.type === 'clusters') clusters.apply(message.views)
    }
    expect(status.staleAfterMs('c')).toBe(15_000)
    arrive(0)
    commit()
    arrive(10_000)
    expect(status.staleAfterMs('c')).toBe(15_000) // not before the writer confirms it
    commit()
    expect(status.staleAfterMs('c')).toBe(30_000)
    // Stale goes by when the master received the node's newest snapshot, never by the agent's clock.
    expect(status.nodeStatus('c', 39_000)(10_000)).toBe('online')
    expect(status.nodeStatus('c', 41_000)(10_000)).toBe('stale')
    arrive(12_000) // a fast post pulls the smoothed interval down, not to 2 s at once
    commit()
    expect(status.staleAfterMs('c')).toBe(3 * (0.8 * 10_000 + 0.2 * 2_000))
    // A refused write teaches nothing.
    arrive(12_500)
    hub.onWriter({ type: 'failed', batches: [batch], message: 'disk full' })
    hub.flush()
    expect(toGateway.filter((message) => message.type === 'clusters')).toEqual([])
  })
})

describe('GET /api/v2/clusters', () => {
  test('every cluster with its agent status, last snapshot and node counts', async () => {
    // Wide enough that a slow machine reads the first list before anything expires, short enough to wait out.
    master = await startTestMaster({ STALE_AFTER: '2s', AGENT_EXPIRE: '2s' })
    const before = Date.now()
    await post('alpha', [['a1', 10], ['a2', 10]])
    await post('beta', [['b1', 10]])
    const heartbeat = await fetch(`${master.ingest}/agent/heartbeat`, { method: 'POST', headers: { 'x-cluster-id': 'gamma' } })
    expect(heartbeat.status).toBe(200)
    // The gateway hears of a heartbeat from the DataHub's message, which its event loop may take up a
    // moment after a request that came in meanwhile.
    let first: any[] = []
    await waitFor(async () => (first = (await getJson(`${master!.api}/api/v2/clusters`)).body.clusters).length === 3, 1_000)
    expect(first.map((cluster: { cluster_id: string }) => cluster.cluster_id)).toEqual(['alpha', 'beta', 'gamma'])
    expect(first[0]).toMatchObject({ agent: 'online', nodes: 2, online_nodes: 2, stale_nodes: 0, last_heartbeat_at: null, stale_after_ms: 2000 })
    expect(first[0].last_snapshot_at).toBeGreaterThanOrEqual(before)
    expect(first[2]).toMatchObject({ agent: 'online', nodes: 0, last_snapshot_at: null })
    expect(first[2].last_heartbeat_at).toBeGreaterThanOrEqual(before)

    await Bun.sleep(2_200)
    await post('alpha', [['a1', 10]])
    // As above: the agent's new state reaches the gateway by the DataHub's message.
    let later: any[] = []
    await waitFor(async () => (later = (await getJson(`${master!.api}/api/v2/clusters`)).body.clusters)[0].agent === 'online', 1_000)
    expect(later.map((cluster: { agent: string }) => cluster.agent)).toEqual(['online', 'offline', 'offline'])
    expect(later[0]).toMatchObject({ nodes: 2, online_nodes: 1, stale_nodes: 1 })
    expect(later[1]).toMatchObject({ nodes: 1, online_nodes: 0, stale_nodes: 1 })
  })
})
