import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { availableParallelism } from 'node:os'
import { ConfigError, defaultIngestThreads, loadConfig, usableCores } from '../src/config/config'
import { DataHub } from '../src/datahub/datahub'
import type { HubToIngest } from '../src/ingest/messages'
import { InflightBudget, reclaimThread, sharedBudgetMemory } from '../src/ingest/inflight'
import { encodeRows } from '../src/storage/node-rows'
import { disposeMaster, readDb, type RunningMaster, startTestMaster } from './support/master'
import { runMasterToExit } from './support/master-process'
import { clusterSnapshot, numberedNodes as nodes } from './support/snapshots'
import { waitFor } from './support/wait'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** INGEST_THREADS ingest threads on one port: the kernel spreads agents over them, the DataHub answers each through its own. */

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

/** A snapshot on a connection of its own (no keep-alive): the kernel picks the thread for each. */
const post = (clusterId: string, timestamp: number) =>
  fetch(`${master!.ingest}/agent/snapshot`, {
    method: 'POST',
    keepalive: false,
    headers: { 'content-type': 'application/json', 'x-cluster-id': clusterId },
    body: JSON.stringify(clusterSnapshot(clusterId, nodes(2, timestamp))),
  })

const storedMs = (clusterId: string) =>
  readDb<{ snapshot_ms: number }>(master!.dbPath, 'SELECT MIN(snapshot_ms) AS snapshot_ms FROM node_metrics_latest WHERE cluster_id = ?', clusterId)[0]
    ?.snapshot_ms

/** nmm_ingest_requests_total by thread, as /metrics says (each thread reports once a second). */
async function requestsByThread(): Promise<Map<string, number>> {
  const text = await (await fetch(`${master!.api}/metrics`)).text()
  return new Map([...text.matchAll(/^nmm_ingest_requests_total\{thread="(\d+)"\} (\d+)$/gm)].map((match) => [match[1]!, Number(match[2])]))
}
const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0)

describe('INGEST_THREADS', () => {
  test('defaults to the cores but one, at least 1; takes 1 to 64', () => {
    expect([1, 2, 3, 8, 9, 64, 96].map((cores) => defaultIngestThreads(cores))).toEqual([1, 1, 2, 7, 8, 8, 8])
    // A container's CPU quota counts, not the host's cores: 150000/100000 is 1.5 CPUs, so 2.
    expect(usableCores('150000 100000\n')).toBe(Math.min(2, availableParallelism()))
    expect(usableCores('max 100000\n')).toBe(availableParallelism())
    expect(usableCores(undefined)).toBe(availableParallelism())
    expect(loadConfig({}).ingestThreads).toBe(Math.max(1, availableParallelism() - 1))
    expect(loadConfig({ INGEST_THREADS: '3' }).ingestThreads).toBe(3)
    expect(loadConfig({ INGEST_THREADS: '64' }).ingestThreads).toBe(64)
    for (const bad of ['0', '65', 'two', '1.5', '-1']) {
      expect(() => loadConfig({ INGEST_THREADS: bad })).toThrow(ConfigError)
      expect(() => loadConfig({ INGEST_THREADS: bad })).toThrow(/^INGEST_THREADS: expected a number of threads from 1 to 64/)
    }
  })
})

describe('three ingest threads on one port', () => {
  test('many agents on many connections: every 200 is in the SQLite file when it arrives, and more than one thread served', async () => {
    master = await startTestMaster({ INGEST_THREADS: '3' })
    const t0 = Date.now() - 60_000
    const agents = 40
    const rounds = 5
    const results = await Promise.all(Array.from({ length: agents }, async (_, agent) => {
      const outcomes: { status: number; stored?: number; ts: number }[] = []
      for (let round = 0; round < rounds; round++) {
        const ts = t0 + round * 1_000
        const response = await post(`c${agent}`, ts)
        // Read at the moment of the 200: the snapshot must already be committed.
        outcomes.push({ status: response.status, stored: storedMs(`c${agent}`), ts })
      }
      return outcomes
    }))
    for (const outcome of results.flat()) {
      expect(outcome.status).toBe(200)
      expect(outcome.stored).toBe(outcome.ts)
    }
    expect(master.hub.waitingBatches).toBe(0)
    // Each thread reports its count within a second.
    await waitFor(async () => total(await requestsByThread()) === agents * rounds, 5_000)
    const counts = await requestsByThread()
    expect([...counts.values()].filter((count) => count > 0).length).toBeGreaterThan(1)
  })

  test('one thread crashes with requests waiting: the others are answered after their commit and keep serving; it is restarted and serves again', async () => {
    master = await startTestMaster({ INGEST_THREADS: '3' })
    const errors: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void errors.push(args.join(' '))
    try {
      master.faults.writer({ kind: 'delay', ms: 1_000 })
      const t0 = Date.now() - 60_000
      // 30 connections: the chance that none is thread 1's is (2/3)^30, about 5 in a million.
      const waiting = Array.from({ length: 30 }, (_, agent) =>
        post(`w${agent}`, t0).then(
          (response) => ({ status: response.status, stored: storedMs(`w${agent}`) }),
          () => ({ status: 0, stored: undefined }), // held by the thread that died: never answered, the agent retries
        ))
      await waitFor(() => master!.hub.waitingBatches === 30, 5_000)
      master.faults.crashIngest(1)
      const outcomes = await Promise.all(waiting)
      const answered = outcomes.filter((outcome) => outcome.status !== 0)
      expect(answered.length).toBeGreaterThan(0)
      expect(answered.length).toBeLessThan(30)
      for (const outcome of answered) {
        expect(outcome.status).toBe(200)
        expect(outcome.stored).toBe(t0)
      }
      await waitFor(() => master!.hub.waitingBatches === 0, 5_000)
      // The dead thread's requests were committed all the same; nobody was told.
      expect(readDb(master.dbPath, 'SELECT COUNT(DISTINCT cluster_id) AS n FROM node_metrics_latest')).toEqual([{ n: 30 }])
      expect(errors.join('\n')).toContain('restarting the ingest thread 1')
      master.faults.writer({ kind: 'delay', ms: 0 })

      // Thread 1 serves again: the kernel hands its new socket connections, and it counts them.
      const before = (await requestsByThread()).get('1') ?? 0
      let round = 0
      await waitFor(async () => {
        const statuses = await Promise.all(Array.from({ length: 10 }, (_, agent) => post(`r${agent}`, t0 + 1_000 + round).then((response) => response.status)))
        round++
        expect(statuses.every((status) => status === 200)).toBe(true)
        await Bun.sleep(100)
        return ((await requestsByThread()).get('1') ?? 0) > before
      }, 10_000)
      expect(errors.filter((line) => line.includes('restart failed'))).toEqual([])
    } finally {
      console.error = original
    }
  })

  test('stop with every thread busy: all requests in flight are answered after their commit, and the stop is clean', async () => {
    master = await startTestMaster({ INGEST_THREADS: '3' })
    master.faults.writer({ kind: 'delay', ms: 1_500 })
    const t0 = Date.now() - 60_000
    const inFlight = Array.from({ length: 30 }, (_, agent) => post(`s${agent}`, t0).then((response) => response.status))
    await waitFor(() => master!.hub.waitingBatches === 30, 5_000)
    // All three threads hold requests (the counts arrive within a second).
    await waitFor(async () => total(await requestsByThread()) === 30, 3_000)
    expect([...(await requestsByThread()).values()].filter((count) => count > 0)).toHaveLength(3)
    const started = performance.now()
    const report = await master.stop()
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(report.problems).toEqual([])
    expect(await Promise.all(inFlight)).toEqual(Array<number>(30).fill(200))
    expect(readDb(master.dbPath, 'SELECT COUNT(DISTINCT cluster_id) AS n FROM node_metrics_latest')).toEqual([{ n: 30 }])
    master = await disposeMaster({ ...master, stop: async () => ({ problems: [] }) })
  })

  test('a second master on the same ports refuses to start, naming the variable, though every socket shares its port', async () => {
    master = await startTestMaster({ INGEST_THREADS: '2' })
    const start = (env: Record<string, string>) => runMasterToExit({ DB_PATH: `${master!.dbPath}-second`, ...env })
    const ingest = await start({ INGEST_PORT: String(master.ingestPort) })
    expect(ingest.code).toBe(1)
    expect(ingest.output).toContain(`cannot listen on 127.0.0.1:${master.ingestPort}`)
    expect(ingest.output).toContain('(INGEST_PORT)')
    const api = await start({ PORT: String(master.gatewayPort) })
    expect(api.code).toBe(1)
    expect(api.output).toContain(`cannot listen on 127.0.0.1:${master.gatewayPort} (PORT)`)
    // The first master still has its ports to itself.
    const statuses = await Promise.all(Array.from({ length: 10 }, (_, agent) => post(`p${agent}`, Date.now() - 1_000).then((response) => response.status)))
    expect(statuses).toEqual(Array<number>(10).fill(200))
  })
})

describe('the DataHub with several ingest threads', () => {
  test('request numbers repeat across threads: each answer goes to the thread that asked, and a lost thread forgets only its own', () => {
    const sent: [number, HubToIngest][] = []
    const hub = new DataHub(
      { toIngest: (thread, message) => void sent.push([thread, message]), toWriter: () => true, toGateway: () => {} },
      { writeQueueLimit: 100, maxClusters: 2, retentionMs: 86_400_000, agentExpireMs: 45_000 },
    )
    const snapshot = (clusterId: string) => ({
      type: 'snapshot' as const, request: 1, clusterId, receivedMs: Date.now(), envelope: new Uint8Array(), gzipped: false, rows: encodeRows([]), nodes: 1,
    })
    hub.onIngest(snapshot('a'), 0) // batch 1
    hub.onIngest(snapshot('b'), 2) // batch 2, the same request number on another thread
    hub.onIngest({ type: 'heartbeat', request: 2, clusterId: 'c', at: Date.now() }, 1) // refused at once: MAX_CLUSTERS
    expect(sent).toEqual([[1, expect.objectContaining({ type: 'answer', request: 2, ok: false, status: 429 })]])
    sent.length = 0
    hub.onWriter({ type: 'committed', batches: [2], stored: [1], rows: 1, ms: 1 })
    expect(sent).toEqual([[2, expect.objectContaining({ type: 'answer', request: 1, ok: true })]])
    sent.length = 0
    hub.onIngest(snapshot('b'), 2) // batch 3
    hub.onIngestLost(0)
    hub.onWriter({ type: 'committed', batches: [1, 3], stored: [1, 1], rows: 2, ms: 1 })
    // Thread 0's request died with it; its commit counts, and thread 2's request 1 is answered.
    expect(sent).toEqual([[2, expect.objectContaining({ type: 'answer', request: 1, ok: true })]])
    expect(hub.cluster('a')?.snapshot).toBeDefined()
  })

  test('MAX_INFLIGHT_BYTES is one budget for all threads, and a dead thread gives back what it held', () => {
    const memory = sharedBudgetMemory(2)
    const first = new InflightBudget(1_000, { memory, thread: 0 })
    const second = new InflightBudget(1_000, { memory, thread: 1 })
    const held = first.lease()
    held.take(800)
    expect(second.bytes).toBe(800)
    const other = second.lease()
    expect(() => other.take(300)).toThrow(/MAX_INFLIGHT_BYTES/)
    other.take(200)
    expect(first.bytes).toBe(1_000)
    reclaimThread(memory, 0) // thread 0 died holding 800
    expect(second.bytes).toBe(200)
    other.take(700)
    other.release()
    expect(first.bytes).toBe(0)
  })
})
