import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import { engineOrSkip, startPostgres, type Engine } from './support/engines'
import { failoverAgent } from './support/failover-agent'
import { startTestMaster, type RunningMaster } from './support/master'
import { waitFor } from './support/wait'
import { openPostgresWriteStore } from '../src/storage/postgres'
import { historyTiers } from '../src/storage/tiers'
import { STUCK_WRITE_MS } from '../src/writer/actor'
import { nodeSnapshot } from './support/snapshots'
import { rowOf } from './support/rows'

// A PostgreSQL stop and start, and the master's reconnection, take seconds.
setDefaultTimeout(120_000)

const ready = engineOrSkip('postgres')
let postgres: Engine | undefined
let master: RunningMaster | undefined

beforeAll(async () => {
  if (!ready) return
  postgres = await startPostgres()
  master = await startTestMaster({ DATABASE_URL: postgres.url, SAMPLE_INTERVAL: '10s' })
})

afterAll(async () => {
  await master?.stop()
  await postgres?.stop()
})

const NODES = ['n-0', 'n-1']

test.if(ready)('PostgreSQL stopped under load: 503 with Retry-After and never a 200, /healthz says why; started again: the master goes on by itself and loses nothing acknowledged', async () => {
  const agent = failoverAgent('pg', NODES, () => [master!.ingest], Date.now() - 600_000, 1_000)
  await waitFor(() => agent.sent.length >= 20, 30_000)

  await postgres!.halt()
  const down = performance.now()
  const refusedBefore = agent.refusals.length
  await waitFor(() => agent.refusals.length >= refusedBefore + 5, 30_000)
  const health = await fetch(`${master!.api}/healthz`)
  expect(health.status).toBe(503)
  const said = (await health.json()) as { status: string; reason?: string }
  expect(said.status).toBe('degraded')
  expect(said.reason).toBeTruthy()
  const upAgain = performance.now()
  await postgres!.resume()

  const sentWhenUp = agent.sent.length
  await waitFor(() => agent.sent.length >= sentWhenUp + 20, 60_000)
  await agent.stop()

  // While it was down, agents were told to come back, never that their snapshot was kept.
  const whileDown = agent.refusals.filter((refusal) => refusal.at > down && refusal.at < upAgain)
  expect(whileDown.length).toBeGreaterThanOrEqual(5)
  for (const refusal of whileDown) expect(refusal.what).toMatch(/^503 retry-after=\d+$/)
  expect(agent.acknowledgedAt.filter((at) => at > down + 100 && at < upAgain)).toEqual([])
  expect((await fetch(`${master!.api}/healthz`)).status).toBe(200)

  // Every acknowledged snapshot is stored, once, in both tiers.
  const sql = new SQL(postgres!.url)
  try {
    for (const table of ['node_metrics_history', 'node_metrics_history_hourly']) {
      const rows: { node_name: string; samples: string | number }[] = await sql.unsafe(
        `SELECT n.node_name, SUM(h.samples) AS samples FROM ${table} h JOIN nodes n ON n.id = h.node_id GROUP BY 1 ORDER BY 1`,
      )
      expect(rows.map((row) => [row.node_name, Number(row.samples)])).toEqual(NODES.map((node) => [node, agent.sent.length]))
    }
    const [latest] = await sql`SELECT MIN(snapshot_ms) AS oldest FROM node_metrics_latest`
    expect(Number(latest.oldest)).toBe(agent.sent.at(-1)!)
  } finally {
    await sql.close()
  }
})

const SETTINGS = { sampleIntervalMs: 10_000, retentionMs: 86_400_000, retentionHourlyMs: 30 * 86_400_000 }

const row = (cluster: string, node: string, ts: number) => rowOf(cluster, nodeSnapshot(node, ts, { cpu: 10 }) as never, ts)

test.if(ready)("a master frozen inside its transaction, holding its nodes' locks, stops another only for moments: the server ends the frozen session, the other's write waits at most its lock timeout", async () => {
  expect(historyTiers(SETTINGS).length).toBe(2)
  const [frozen, other] = await Promise.all([openPostgresWriteStore(postgres!.url, SETTINGS), openPostgresWriteStore(postgres!.url, SETTINGS)])
  try {
    const ts = Date.now() - 60_000
    await frozen.write([row('locks', 'n-0', ts)])
    // Frozen between its statements and its commit, its locks held: to the server, idle in a transaction.
    frozen.beforeCommit = () => new Promise<never>(() => {})
    const frozenWrite = frozen.write([row('locks', 'n-0', ts + 1_000)]).then(() => 'committed', (error: Error) => error.message)
    await Bun.sleep(200)

    const started = performance.now()
    const blocked = await other.write([row('locks', 'n-0', ts + 2_000)]).then(() => 'written', (error: Error) => error.message)
    const waited = performance.now() - started
    expect(blocked).toMatch(/lock timeout/i)
    expect(waited).toBeGreaterThan(4_000)
    expect(waited).toBeLessThan(8_000) // its lock_timeout (5 s), not the frozen master's pleasure

    // The server ends the frozen session (idle_in_transaction_session_timeout); the other master writes again.
    expect(await frozenWrite).toMatch(/idle-in-transaction|terminat|closed/i)
    expect(await other.write([row('locks', 'n-0', ts + 3_000)])).toEqual([true])
  } finally {
    frozen.beforeCommit = undefined
    await Promise.all([frozen.close(), other.close()])
  }
})

test.if(ready)('PostgreSQL hanging (stopped with SIGSTOP, not refusing): /healthz answers at once and says why, agents get 503 instead of waiting, and all goes on when it wakes', async () => {
  const agent = failoverAgent('hang', NODES, () => [master!.ingest], Date.now() - 300_000, 1_000)
  await waitFor(() => agent.sent.length >= 10, 30_000)
  await postgres!.freeze!(true)
  const frozenAt = performance.now()
  try {
    const asked = performance.now()
    const health = await fetch(`${master!.api}/healthz`)
    expect(performance.now() - asked).toBeLessThan(5_000)
    expect(health.status).toBe(503)
    expect(((await health.json()) as { reason: string }).reason).toMatch(/did not answer/)
    // Once the transaction is stuck its agent is told it is unconfirmed (504: it may still commit), and
    // what comes behind it is refused (503: it never reached the store) — long before an agent's 60 s deadline.
    await waitFor(() => agent.refusals.some((refusal) => refusal.at > frozenAt && refusal.what.startsWith('504')), STUCK_WRITE_MS + 5_000)
    await waitFor(() => agent.refusals.some((refusal) => refusal.at > frozenAt && refusal.what.startsWith('503')), 5_000)
    const list = await fetch(`${master!.api}/api/v2/clusters/hang/node-metrics`)
    expect(list.status).toBe(503)
    expect(list.headers.get('retry-after')).toBeTruthy()
  } finally {
    await postgres!.freeze!(false)
  }
  const sentWhenAwake = agent.sent.length
  await waitFor(() => agent.sent.length >= sentWhenAwake + 10, 60_000)
  await agent.stop()
  // The stuck transaction settled once it was answered: nothing is left waiting, so nothing stays stalled.
  await waitFor(async () => (await fetch(`${master!.api}/healthz`)).status === 200, 10_000)
  expect(master!.hub.waitingBatches).toBe(0)
  expect(master!.hub.writeQueueRows).toBe(0)
  const sql = new SQL(postgres!.url)
  try {
    const rows: { samples: string | number }[] = await sql.unsafe(
      `SELECT SUM(h.samples) AS samples FROM node_metrics_history h JOIN nodes n ON n.id = h.node_id WHERE n.cluster_id = 'hang' GROUP BY n.node_name`,
    )
    expect(rows.map((row) => Number(row.samples))).toEqual(NODES.map(() => agent.sent.length))
  } finally {
    await sql.close()
  }
})

test.if(ready)('a master started while PostgreSQL cannot be reached waits for it, then starts by itself and takes agents', async () => {
  await postgres!.halt()
  let started: RunningMaster | undefined
  const starting = startTestMaster({ DATABASE_URL: postgres!.url, SAMPLE_INTERVAL: '10s' }).then((running) => (started = running))
  try {
    await Bun.sleep(1_500)
    expect(started).toBeUndefined() // neither started nor exited: waiting
  } finally {
    await postgres!.resume()
  }
  const running = await starting
  try {
    const agent = failoverAgent('late', NODES, () => [running.ingest], Date.now() - 60_000, 1_000)
    await waitFor(() => agent.sent.length >= 3, 30_000)
    await agent.stop()
    expect(agent.refusals).toEqual([])
  } finally {
    await running.stop()
  }
})
