import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import { engineOrSkip, startPostgres, type Engine } from './support/engines'
import { failoverAgent } from './support/failover-agent'
import { startTestMaster, type RunningMaster } from './support/master'
import { waitFor } from './support/wait'

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
