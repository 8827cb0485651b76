import { afterEach, describe, expect, test } from 'bun:test'
import type { WriterFault } from '../src/messages/writer'
import { disposeMaster, getJson, postSnapshot, readDb, removeDb, type RunningMaster, startTestMaster } from './support/master'
import { atlhyperFixture, postLikeAtlHyper } from './support/atlhyper'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

const inject = (fault: WriterFault) => master!.writer.post({ type: 'fault', fault })

const nodes = (count: number, ts: number, prefix = 'n') =>
  Array.from({ length: count }, (_, index) => nodeSnapshot(`${prefix}${index}`, ts, { cpu: index % 100 }))

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await Bun.sleep(10)
  }
  return performance.now() - started
}

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
  test('a crashed writer is restarted within 1 s; the gap answers 503; the DataHub re-sends what it holds', async () => {
    master = await startTestMaster()
    const t0 = Date.now() - 10_000
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', nodes(3, t0)), { clusterId: 'c' })).status).toBe(200)

    // A snapshot the DataHub holds but the writer could not commit: the file is full.
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
    // The re-send lands the snapshot that failed, so the table catches up with the DataHub.
    await waitFor(() => readDb(master!.dbPath, 'SELECT * FROM node_metrics_latest').length === 60, 2_000)
    expectLatestEqualsDataHub(master, 'c')
    // And the API shows it: no answer cached before the re-send is served after it.
    await waitFor(async () => (await getJson(`${master!.api}/api/v2/clusters/c/node-metrics`)).body.summary.metrics_nodes === 60, 2_000)
    expect(readDb(master.dbPath, "SELECT * FROM node_metrics_latest WHERE node_name = 'gap0'")).toEqual([])

    const after = await postSnapshot(master.ingest, clusterSnapshot('c', nodes(2, t0 + 3_000)), { clusterId: 'c' })
    expect(after.status).toBe(200)
    expectLatestEqualsDataHub(master, 'c')
  })

  test("the re-send after a writer restart derives figures as the ingest thread does (NET_EXCLUDE, model_v3, disk I/O source)", async () => {
    master = await startTestMaster({ NET_EXCLUDE: 'none' })
    inject({ kind: 'disk-full', on: true })
    const body = atlhyperFixture('v3-snapshot')
    expect((await postLikeAtlHyper(master.ingest, body, 'prod-v3')).status).toBe(503) // only the DataHub holds it now
    inject({ kind: 'crash' })
    await waitFor(() => readDb(master!.dbPath, "SELECT * FROM node_metrics_latest WHERE cluster_id = 'prod-v3'").length === 2, 3_000)
    const v3 = JSON.parse(body).otel.metricsNodes[0]
    const [row] = readDb<{ net_rx: number; disk_read: number; snapshot: Uint8Array }>(master.dbPath,
      "SELECT net_rx, disk_read, snapshot FROM node_metrics_latest WHERE node_name = 'v3-node-1'")
    // NET_EXCLUDE=none: every up interface counts (eth0 and cni0; flannel.1 is down); disk I/O from model_v3's "sda" entry.
    expect(row!.net_rx).toBeCloseTo(v3.networks[0].rxBytesPerSec + v3.networks[1].rxBytesPerSec, 6)
    expect(row!.disk_read).toBe(v3.disks[2].readBytesPerSec)
    expect(JSON.parse(new TextDecoder().decode(row!.snapshot))).toMatchObject({ node_name: 'v3-node-1', cpu: { usage_percent: v3.cpu.usagePct } })
    expect(new TextDecoder().decode(row!.snapshot)).toContain('"filefd_maximum":-9223372036854775808')
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
    master.writer.post({ type: 'fault', fault: { kind: 'delay', ms: 200 } })
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
      master.injectIngestCrash()
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
