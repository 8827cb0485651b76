import { afterEach, describe, expect, test } from 'bun:test'
import { DataHub } from '../src/datahub/datahub'
import { FleetStatus } from '../src/metrics/status'
import { encodeRows } from '../src/storage/node-rows'
import { disposeMaster, getJson, postSnapshot, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

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

  test('by default the threshold is 3 × the observed agent interval, at least 15 s', () => {
    const hub = new DataHub({ toIngest: () => {}, toWriter: () => true }, { writeQueueLimit: 100, accept: { netExclude: /^lo$/ } })
    const status = new FleetStatus(hub, { staleAfterMs: undefined, agentExpireMs: 45_000 })
    const snapshot = (at: number, request: number, snapshotTs = at) => hub.onIngest({
      type: 'snapshot', request, clusterId: 'c', receivedAt: at, envelope: new Uint8Array(), gzipped: false,
      rows: encodeRows([]), nodes: 0, nodeNames: 'n1', nodeTimestamps: [snapshotTs],
    })
    expect(status.staleAfterMs('c')).toBe(15_000)
    snapshot(0, 1)
    snapshot(10_000, 2)
    expect(status.staleAfterMs('c')).toBe(30_000)
    expect(status.nodeStatus('c', 39_000)('n1', 0)).toBe('online')
    expect(status.nodeStatus('c', 41_000)('n1', 0)).toBe('stale')
    // A node the DataHub never heard from since the start goes by its snapshot's timestamp.
    expect(status.nodeStatus('c', 41_000)('other', 20_000)).toBe('online')
    snapshot(12_000, 3) // a fast post pulls the smoothed interval down, not to 2 s at once
    expect(status.staleAfterMs('c')).toBe(3 * (0.8 * 10_000 + 0.2 * 2_000))
  })

  test("a node whose agent keeps re-sending its last snapshot (AtlHyper's cache) turns stale all the same", () => {
    const hub = new DataHub({ toIngest: () => {}, toWriter: () => true }, { writeQueueLimit: 100, accept: { netExclude: /^lo$/ } })
    const status = new FleetStatus(hub, { staleAfterMs: 15_000, agentExpireMs: 45_000 })
    const envelope = (at: number, request: number, nodes: [string, number][]) => hub.onIngest({
      type: 'snapshot', request, clusterId: 'c', receivedAt: at, envelope: new Uint8Array(), gzipped: false, rows: encodeRows([]),
      nodes: nodes.length, nodeNames: nodes.map(([name]) => name).join('\n'), nodeTimestamps: nodes.map(([, ts]) => ts),
    })
    envelope(0, 1, [['alive', 0], ['dead', 0]])
    for (let at = 10_000; at <= 30_000; at += 10_000) envelope(at, at, [['alive', at], ['dead', 0]]) // dead's snapshot never moves
    expect(status.nodeStatus('c', 30_000)('alive', 30_000)).toBe('online')
    expect(status.nodeStatus('c', 30_000)('dead', 0)).toBe('stale')
    // After a restart the DataHub has not heard of either: a re-sent old snapshot counts from its own time.
    const restarted = new DataHub({ toIngest: () => {}, toWriter: () => true }, { writeQueueLimit: 100, accept: { netExclude: /^lo$/ } })
    const after = new FleetStatus(restarted, { staleAfterMs: 15_000, agentExpireMs: 45_000 })
    restarted.onIngest({
      type: 'snapshot', request: 1, clusterId: 'c', receivedAt: 40_000, envelope: new Uint8Array(), gzipped: false, rows: encodeRows([]),
      nodes: 2, nodeNames: 'alive\ndead', nodeTimestamps: [39_500, 0],
    })
    expect(after.nodeStatus('c', 40_000)('alive', 39_500)).toBe('online')
    expect(after.nodeStatus('c', 40_000)('dead', 0)).toBe('stale')
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
    const first = (await getJson(`${master.api}/api/v2/clusters`)).body.clusters
    expect(first.map((cluster: { cluster_id: string }) => cluster.cluster_id)).toEqual(['alpha', 'beta', 'gamma'])
    expect(first[0]).toMatchObject({ agent: 'online', nodes: 2, online_nodes: 2, stale_nodes: 0, last_heartbeat_at: null, stale_after_ms: 2000 })
    expect(first[0].last_snapshot_at).toBeGreaterThanOrEqual(before)
    expect(first[2]).toMatchObject({ agent: 'online', nodes: 0, last_snapshot_at: null })
    expect(first[2].last_heartbeat_at).toBeGreaterThanOrEqual(before)

    await Bun.sleep(2_200)
    await post('alpha', [['a1', 10]])
    const later = (await getJson(`${master.api}/api/v2/clusters`)).body.clusters
    expect(later.map((cluster: { agent: string }) => cluster.agent)).toEqual(['online', 'offline', 'offline'])
    expect(later[0]).toMatchObject({ nodes: 2, online_nodes: 1, stale_nodes: 1 })
    expect(later[1]).toMatchObject({ nodes: 1, online_nodes: 0, stale_nodes: 1 })
  })
})
