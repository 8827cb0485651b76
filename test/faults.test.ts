import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { WriterFault } from '../src/faults/hooks'
import { disposeMaster, getJson, postSnapshot, readDb, removeDb, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot, numberedNodes as nodes } from './support/snapshots'
import { waitFor } from './support/wait'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

const inject = (fault: WriterFault) => master!.faults.writer(fault)



/** Every node of the envelope the DataHub holds must be in the latest table with exactly that snapshot. */
function expectLatestEqualsDataHub(m: RunningMaster, clusterId: string) {
  const held = Object.values(JSON.parse(m.hub.envelopeText(clusterId)!).node_metrics) as { node_name: string }[]
  const stored = new Map(
    readDb<{ node_name: string; snapshot: Uint8Array }>(m.dbPath, 'SELECT node_name, snapshot FROM node_metrics_latest WHERE cluster_id = ?', clusterId)
      .map((row) => [row.node_name, JSON.parse(new TextDecoder().decode(row.snapshot))]),
  )
  expect(held.length).toBeGreaterThan(0)
  for (const node of held) expect(stored.get(node.node_name)).toEqual(node)
}

describe('writer faults', () => {
  test('a crashed writer is restarted within 1 s; the gap answers 503; nothing answered 503 is stored later', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 10_000
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(3, t0)), { clusterId: 'c' })).status).toBe(200)

    // A snapshot the writer could not commit (the file is full): its agent got 503 and will retry.
    inject({ kind: 'disk-full', on: true })
    const unstored = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(60, t0 + 1_000)), { clusterId: 'c' })
    expect(unstored.status).toBe(503)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toHaveLength(3)

    inject({ kind: 'crash' })
    await waitFor(() => !master!.writer.isUp, 1_000) // the main thread has noticed
    const duringGap = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(1, t0 + 2_000, 'gap')), { clusterId: 'c' })
    expect(duringGap.status).toBe(503)
    expect(duringGap.headers.get('retry-after')).toBeTruthy()
    expect(await duringGap.json()).toMatchObject({ error: 'unavailable' })

    const restartMs = await waitFor(async () => (await getJson(`${master!.api}/healthz`)).body.writer === 'up', 2_000)
    expect(restartMs).toBeLessThan(1_000)
    // Nothing is re-sent behind the agents' backs: the table and the DataHub keep the last committed snapshot.
    await Bun.sleep(300)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toHaveLength(3)
    expectLatestEqualsDataHub(master, 'c')
    expect((await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)).body.summary.metrics_nodes).toBe(3)

    // The agent's retry is what stores it.
    const retry = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(60, t0 + 1_000)), { clusterId: 'c' })
    expect(retry.status).toBe(200)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toHaveLength(60)
    expectLatestEqualsDataHub(master, 'c')
  })

  test('state changes on commit: while writes fail the DataHub keeps the committed snapshot, /healthz says 503 and why', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 10_000
    const committed = clusterSnapshot('c', nodes(2, t0))
    expect((await postSnapshot(master.ingest, committed, { clusterId: 'c' })).status).toBe(200)
    // The DataHub's word leaves for the gateway before the 200 does, but may be read after the next query.
    await waitFor(async () => (await getJson(`${master!.api}/api/v2/clusters`)).body.clusters[0]?.last_snapshot_at != null, 2_000)
    const clusterBefore = (await getJson(`${master.api}/api/v2/clusters`)).body.clusters[0]
    expect((await getJson(`${master.api}/healthz`)).status).toBe(200)

    inject({ kind: 'disk-full', on: true })
    for (let round = 1; round <= 3; round++) {
      expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(40, t0 + round * 1_000)), { clusterId: 'c' })).status).toBe(503)
    }
    const health = await getJson(`${master.api}/healthz`)
    expect(health.status).toBe(503)
    expect(health.body).toMatchObject({ status: 'degraded', writer: 'failing', reads: 'ok' })
    expect(health.body.reason).toMatch(/full/i)
    // The refused snapshots changed nothing the API shows: the envelope, the time of the last snapshot.
    expect(JSON.parse(master.hub.envelopeText('c')!)).toEqual(JSON.parse(JSON.stringify(committed)))
    const envelope = await fetch(`${master.api}/api/v2/clusters/c/snapshot`)
    expect(await envelope.json()).toEqual(JSON.parse(JSON.stringify(committed)))
    expect((await getJson(`${master.api}/api/v2/clusters`)).body.clusters[0].last_snapshot_at).toBe(clusterBefore.last_snapshot_at)
    const metrics = await (await fetch(`${master.api}/metrics`)).text()
    expect(metrics).toMatch(/^nmm_write_failures_total 3$/m)
    expect(metrics).toMatch(/^nmm_snapshots_received_total 1$/m) // 503s are not "received"

    inject({ kind: 'disk-full', on: false })
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(2, t0 + 5_000)), { clusterId: 'c' })).status).toBe(200)
    await waitFor(async () => (await getJson(`${master!.api}/healthz`)).status === 200, 2_000)
  })

  for (const kind of ['disk-full', 'read-only'] as const) test(`${kind === 'disk-full' ? 'a full disk (SQLITE_FULL)' : 'a read-only database (SQLITE_READONLY)'} answers 503, is logged once per burst, and heals by itself`, async () => {
    master = await startTestMaster()
    const errors: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void errors.push(args.join(' '))
    try {
      const t0 = Date.now() - 10_000
      inject({ kind, on: true })
      for (let round = 0; round < 3; round++) {
        const response = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(60, t0 + round, `r${round}-`)), { clusterId: 'c' })
        expect(response.status).toBe(503)
      }
      expect(errors.filter((line) => line.includes('storage write failed'))).toHaveLength(1)
      expect(errors.join('\n')).toMatch(kind === 'disk-full' ? /full/i : /readonly/i)
      inject({ kind, on: false })
      const healed = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(60, t0 + 5)), { clusterId: 'c' })
      expect(healed.status).toBe(200)
      expect(readDb(master.dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
      expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toHaveLength(60)
    } finally {
      console.error = original
    }
  })

  test('back-pressure: a writer that falls behind makes agents wait with 503 + Retry-After, the queue stays bounded', async () => {
    master = await startTestMaster({ WRITE_QUEUE_LIMIT: '100' })
    inject({ kind: 'delay', ms: 300 })
    const t0 = Date.now() - 60_000
    // 20 agents of 20 nodes each at once: 400 rows against a queue of 100.
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, agent) =>
        postSnapshot(master!.ingest, clusterSnapshot(`c${agent}`, nodes(20, t0)), { clusterId: `c${agent}` })),
    )
    const statuses = responses.map((response) => response.status)
    const accepted = statuses.filter((status) => status === 200).length
    const refused = responses.filter((response) => response.status === 503)
    expect(accepted + refused.length).toBe(20)
    expect(accepted).toBeGreaterThan(0)
    expect(accepted).toBeLessThanOrEqual(5) // 5 × 20 rows fill the queue of 100
    expect(refused.length).toBeGreaterThan(0)
    for (const response of refused) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(master.hub.writeQueueRows).toBe(0)
    // Exactly the acknowledged clusters are stored; the refused ones left no trace.
    const stored = readDb<{ cluster_id: string }>(master.dbPath, 'SELECT DISTINCT cluster_id FROM node_metrics_latest')
    expect(stored).toHaveLength(accepted)
    expect(master.hub.clusterCount).toBe(accepted)
  })
})

describe('shutdown', () => {
  test('stop answers the requests in flight with their commit before it closes the database', async () => {
    master = await startTestMaster()
    inject({ kind: 'delay', ms: 200 })
    const t0 = Date.now() - 10_000
    const inFlight = Array.from({ length: 5 }, (_, agent) =>
      postSnapshot(master!.ingest, clusterSnapshot(`c${agent}`, nodes(10, t0)), { clusterId: `c${agent}` }))
    await waitFor(() => master!.hub.writeQueueRows === 50, 2_000)
    const stopped = master.stop()
    const statuses = await Promise.all(inFlight.map(async (response) => (await response).status))
    await stopped
    expect(statuses).toEqual([200, 200, 200, 200, 200])
    expect(readDb(master.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_latest')).toEqual([{ n: 50 }])
    removeDb(master.dbPath)
    master = undefined
  })
})

describe('ingest thread faults', () => {
  test('a crashed ingest thread is replaced on the same port and agents are served again', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 10_000
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(2, t0)), { clusterId: 'c' })).status).toBe(200)
    const errors: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void errors.push(args.join(' '))
    try {
      master.faults.crashIngest()
      let answered = 0
      const restartMs = await waitFor(async () => {
        try {
          const response = await postSnapshot(master!.ingest, clusterSnapshot('c', nodes(2, t0 + 1_000 + answered++)), { clusterId: 'c' })
          return response.status === 200
        } catch {
          return false
        }
      }, 5_000)
      expect(restartMs).toBeLessThan(5_000)
      expect(errors.join('\n')).toContain('restarting the ingest thread')
      expect(readDb(master.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_latest')).toEqual([{ n: 2 }])
      expect((await getJson(`${master.api}/healthz`)).body.writer).toBe('up')
    } finally {
      console.error = original
    }
  })
})

describe('health sees reads', () => {
  test('/healthz answers 503 with the reason while the gateway cannot read the database', async () => {
    master = await startTestMaster()
    expect((await getJson(`${master.api}/healthz`)).status).toBe(200)
    master.faults.gateway({ kind: 'reads-fail' })
    await waitFor(async () => (await getJson(`${master!.api}/healthz`)).status === 503, 2_000)
    const health = await getJson(`${master.api}/healthz`)
    expect(health.body).toMatchObject({ status: 'degraded', writer: 'up', reads: 'failing' })
    expect(health.body.reason).toMatch(/^reads fail: /)
    // A query that cannot read is a 503 JSON error with Retry-After, and the gateway stays up to say so.
    const list = await fetch(`${master.api}/api/v2/clusters/c/node-metrics`)
    expect(list.status).toBe(503)
    expect(list.headers.get('retry-after')).toBe('5')
    expect(await list.json()).toMatchObject({ error: 'store_unavailable' })
    // /metrics still gives the master's own figures, without the node gauges it cannot read.
    const metrics = await fetch(`${master.api}/metrics`)
    expect(metrics.status).toBe(200)
    const text = await metrics.text()
    expect(text).toContain('nmm_snapshots_received_total')
    expect(text).not.toMatch(/^node_cpu_usage_percent\{/m)
  })
})

describe('gateway faults', () => {
  test('a crashed gateway is replaced on the same port and told everything again: clusters, node lists, envelopes, health', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 10_000
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(2, t0)), { clusterId: 'c' })).status).toBe(200)
    const list = async () => (await getJson(`${master!.api}/api/v2/clusters/c/node-metrics`)).body
    expect((await list()).node_figures.n1.cpu_usage).toBe(1)
    master.faults.gateway({ kind: 'crash' })
    await waitFor(async () => {
      try {
        return (await fetch(`${master!.api}/healthz`)).status === 200 && (await getJson(`${master!.api}/api/v2/clusters`)).body.clusters.length === 1
      } catch {
        return false
      }
    }, 5_000)
    expect((await getJson(`${master.api}/api/v2/clusters`)).body.clusters[0]).toMatchObject({ cluster_id: 'c', agent: 'online', nodes: 2 })
    // A commit after the restart reaches the new gateway: no cached list from before it is served.
    const changed = clusterSnapshot('c', [nodeSnapshot('n1', t0 + 1_000, { cpu: 77 })])
    expect((await postSnapshot(master.ingest, changed, { clusterId: 'c' })).status).toBe(200)
    await waitFor(async () => (await list()).node_figures.n1.cpu_usage === 77, 2_000)
    expect(await (await fetch(`${master.api}/api/v2/clusters/c/snapshot`)).json()).toEqual(JSON.parse(JSON.stringify(changed)))
  })
})

describe('a writer that hangs', () => {
  test('holding a batch unconfirmed for 30 s (by the DataHub clock) makes /healthz say stalled; a commit clears it', async () => {
    let now = Date.now()
    master = await startTestMaster({}, undefined, { now: () => now })
    inject({ kind: 'delay', ms: 2_500 })
    const posted = postSnapshot(master.ingest, clusterSnapshot('c', nodes(2, now - 10_000)), { clusterId: 'c' })
    await waitFor(() => master!.hub.waitingBatches === 1, 2_000)
    expect((await getJson(`${master.api}/healthz`)).status).toBe(200)
    now += 31_000
    await waitFor(async () => (await getJson(`${master!.api}/healthz`)).status === 503, 2_000)
    const health = (await getJson(`${master.api}/healthz`)).body
    expect(health).toMatchObject({ status: 'degraded', writer: 'stalled' })
    expect(health.reason).toMatch(/confirmed nothing for 31 s/)
    expect((await posted).status).toBe(200)
    await waitFor(async () => (await getJson(`${master!.api}/healthz`)).status === 200, 2_000)
  })
})
