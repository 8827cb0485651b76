import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { WriterFault } from '../src/faults/hooks'
import { disposeMaster, getJson, postSnapshot, readDb, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot, numberedNodes as nodes } from './support/snapshots'
import { waitFor } from './support/wait'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** The actor protocol under faults: every 200 is true, state follows commits, state is bounded. */

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

const inject = (fault: WriterFault) => master!.faults.writer(fault)


const storedTs = (m: RunningMaster, clusterId: string, node: string) =>
  readDb<{ snapshot_ms: number }>(m.dbPath, 'SELECT snapshot_ms FROM node_metrics_latest WHERE cluster_id = ? AND node_name = ?', clusterId, node)[0]
    ?.snapshot_ms

describe('answers reach the right agent', () => {
  test('an ingest thread restarted with requests waiting behind a slow writer: every 200 is in the database when it arrives', async () => {
    master = await startTestMaster()
    inject({ kind: 'delay', ms: 1_500 })
    const t0 = Date.now() - 60_000
    // Requests 1–5 of the first ingest thread wait for a transaction that takes 1.5 s.
    const old = Array.from({ length: 5 }, (_, index) =>
      postSnapshot(master!.ingest, clusterSnapshot(`old${index}`, nodes(2, t0)), { clusterId: `old${index}` }).catch(() => undefined))
    await waitFor(() => master!.hub.waitingBatches === 5, 2_000)
    master.faults.crashIngest()
    // The new thread numbers its requests from 1 again: the old commits must not answer them.
    await waitFor(async () => {
      try {
        return (await fetch(`${master!.ingest}/agent/commands`, { signal: AbortSignal.timeout(50) })).status > 0
      } catch (error) {
        return (error as Error).name === 'TimeoutError' // a held poll: the new thread listens
      }
    }, 5_000)
    const checks = await Promise.all(Array.from({ length: 8 }, async (_, index) => {
      const ts = t0 + 1_000 + index
      const response = await postSnapshot(master!.ingest, clusterSnapshot(`new${index}`, [nodeSnapshot('x', ts)]), { clusterId: `new${index}` })
      // Read at the moment of the 200: the snapshot must already be committed.
      return { status: response.status, stored: storedTs(master!, `new${index}`, 'x'), ts }
    }))
    for (const check of checks) {
      expect(check.status).toBe(200)
      expect(check.stored).toBe(check.ts)
    }
    await Promise.all(old)
    expect(master.hub.waitingBatches).toBe(0)
  })
})

describe('fair admission', () => {
  test('one agent posting huge snapshots in a loop earns nine normal agents no 503', async () => {
    master = await startTestMaster({ WRITE_QUEUE_LIMIT: '2000' })
    inject({ kind: 'delay', ms: 50 })
    const t0 = Date.now() - 60_000
    const greedyBody = clusterSnapshot('greedy', nodes(1_990, t0, 'g'))
    const until = Date.now() + 3_000
    const greedy: number[] = []
    const normal: number[] = []
    const greedyLoop = async () => {
      while (Date.now() < until) greedy.push((await postSnapshot(master!.ingest, greedyBody, { clusterId: 'greedy' })).status)
    }
    const normalLoop = async (agent: number) => {
      for (let round = 0; Date.now() < until; round++) {
        const body = clusterSnapshot(`normal${agent}`, nodes(10, t0 + round))
        normal.push((await postSnapshot(master!.ingest, body, { clusterId: `normal${agent}` })).status)
      }
    }
    await Promise.all([...Array.from({ length: 4 }, greedyLoop), ...Array.from({ length: 9 }, (_, agent) => normalLoop(agent))])
    expect(greedy.filter((status) => status === 503).length).toBeGreaterThan(0) // the queue was contended
    expect(greedy.filter((status) => status === 200).length).toBeGreaterThan(0) // and the greedy one still served
    expect(normal.length).toBeGreaterThan(9)
    expect(normal.filter((status) => status !== 200)).toEqual([])
  })
})

describe('bounded state', () => {
  test('MAX_CLUSTERS bounds what heartbeats can create; silent clusters and removed nodes are forgotten after RETENTION', async () => {
    let now = Date.now()
    master = await startTestMaster({ MAX_CLUSTERS: '3', RETENTION: '1h', SAMPLE_INTERVAL: '1m' }, undefined, { now: () => now })
    const heartbeat = (clusterId: string) => fetch(`${master!.ingest}/agent/heartbeat`, { method: 'POST', headers: { 'x-cluster-id': clusterId } })
    expect((await postSnapshot(master.ingest, clusterSnapshot('a', nodes(2, now - 1_000)), { clusterId: 'a' })).status).toBe(200)
    expect((await heartbeat('b')).status).toBe(200)
    expect((await heartbeat('c')).status).toBe(200)
    const refused = await heartbeat('d')
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ error: 'too_many_clusters', message: expect.stringContaining('MAX_CLUSTERS') })
    expect(refused.headers.get('retry-after')).toBeTruthy()
    const refusedSnapshot = await postSnapshot(master.ingest, clusterSnapshot('d', nodes(1, now - 1_000)), { clusterId: 'd' })
    expect(refusedSnapshot.status).toBe(429)
    expect((await heartbeat('a')).status).toBe(200) // a known cluster is never refused
    expect(master.hub.clusterCount).toBe(3)
    // A cluster only ever heard of by heartbeats, whose agent went offline (AGENT_EXPIRE), makes room.
    now += 46_000
    expect((await heartbeat('a')).status).toBe(200)
    expect((await heartbeat('d')).status).toBe(200)
    expect(master.hub.cluster('b') ?? master.hub.cluster('c')).toBeDefined() // one of them gave way
    expect([master.hub.cluster('b'), master.hub.cluster('c')].filter(Boolean)).toHaveLength(1)
    expect((await heartbeat('e')).status).toBe(200) // and the other
    expect((await heartbeat('f')).status).toBe(429) // a (with a snapshot), d and e are current

    // Cached before the cleanup: the node list of "a".
    expect(Object.keys((await getJson(`${master.api}/api/v2/clusters/a/node-metrics`)).body.nodes)).toEqual(['n0', 'n1'])

    // Two hours later, by the master's clock: the nodes leave the store, the silent clusters the DataHub.
    now += 2 * 3_600_000
    master.cleanup(now)
    await waitFor(() => master!.hub.clusterCount === 0, 2_000)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toEqual([])
    await waitFor(async () => (await getJson(`${master!.api}/api/v2/clusters`)).body.clusters.length === 0, 2_000)
    expect((await getJson(`${master.api}/api/v2/clusters/a/node-metrics`)).body).toMatchObject({ nodes: {}, node_status: {} })
    expect((await heartbeat('g')).status).toBe(200) // room again
  })
})

describe('shutdown', () => {
  test('a writer that dies during shutdown: stop still ends within 10 s, says what was not committed, keeps every 200', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 60_000
    const acknowledged = await Promise.all(Array.from({ length: 5 }, (_, index) =>
      postSnapshot(master!.ingest, clusterSnapshot(`c${index}`, nodes(3, t0)), { clusterId: `c${index}` })))
    expect(acknowledged.map((response) => response.status)).toEqual([200, 200, 200, 200, 200])
    inject({ kind: 'crash-on-close' })
    const started = performance.now()
    const report = await master.stop()
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(report.problems).toHaveLength(1)
    expect(report.problems[0]).toMatch(/crashed while closing: injected writer crash at close: 0 node row.*everything acknowledged is committed/)
    expect(readDb(master.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_latest')).toEqual([{ n: 15 }])
    master = await disposeMaster({ ...master, stop: async () => ({ problems: [] }) })
  })
})

describe('GET /api/v2/clusters/{id}/snapshot', () => {
  test('the newest committed envelope exactly as its agent sent it, gzipped when the client accepts gzip', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 60_000
    const text = JSON.stringify({ ...clusterSnapshot('c', nodes(2, t0)), pods: [{ name: 'web-1' }], big: 12345678901234567890 })
    expect((await postSnapshot(master.ingest, text, { clusterId: 'c', gzip: true })).status).toBe(200)
    const url = `${master.api}/api/v2/clusters/c/snapshot`
    const gzipped = await fetch(url, { headers: { 'accept-encoding': 'gzip' }, decompress: false })
    expect(gzipped.headers.get('content-encoding')).toBe('gzip')
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await gzipped.arrayBuffer())))).toBe(text)
    const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' }, decompress: false })
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(text) // byte for byte: the 20-digit number is not rounded

    // Posted without gzip, it is gzipped for a client that accepts it.
    const next = JSON.stringify(clusterSnapshot('c', nodes(1, t0 + 1_000)))
    expect((await postSnapshot(master.ingest, next, { clusterId: 'c', gzip: false })).status).toBe(200)
    const again = await fetch(url, { headers: { 'accept-encoding': 'gzip;q=1, identity;q=0.5' }, decompress: false })
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await again.arrayBuffer())))).toBe(next)
    const refused = await fetch(url, { headers: { 'accept-encoding': 'gzip;q=0' }, decompress: false })
    expect(await refused.text()).toBe(next)

    const unknown = await fetch(`${master.api}/api/v2/clusters/nobody/snapshot`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: 'cluster_not_found' })
  })
})
