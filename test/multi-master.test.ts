import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import { engineOrSkip, startPostgres, startRedis, type Engine } from './support/engines'
import { failoverAgent } from './support/failover-agent'
import { spawnMaster, type MasterProcess } from './support/master-process'
import { waitFor } from './support/wait'

// Engines, two master processes and a kill: far past bun's 5 s.
setDefaultTimeout(120_000)

/**
 * Two masters on one PostgreSQL and one Redis, as operators run them behind a load balancer
 * (issue 12): each answers for the other's agents, and either may die without losing what it
 * acknowledged.
 */
const ready = engineOrSkip('postgres') && engineOrSkip('redis')
let postgres: Engine | undefined
let redis: Engine | undefined
let sql: SQL | undefined
const masters: (MasterProcess | undefined)[] = []

const SAMPLE_INTERVAL_S = 10
const env = () => ({ DATABASE_URL: postgres!.url, REDIS_URL: redis!.url, SAMPLE_INTERVAL: `${SAMPLE_INTERVAL_S}s`, INGEST_THREADS: '1' })

beforeAll(async () => {
  if (!ready) return
  ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  sql = new SQL(postgres.url)
  // Started at once: the migrations of two masters on an empty database must not race.
  const started = await Promise.all([spawnMaster(env()), spawnMaster(env())])
  masters.push(...started)
})

afterAll(async () => {
  for (const master of masters) master?.proc.kill('SIGKILL')
  await Promise.all(masters.map((master) => master?.proc.exited))
  await sql?.close()
  await postgres?.stop()
  await redis?.stop()
})

const A_NODES = ['a-0', 'a-1', 'a-2']
const B_NODES = ['b-0', 'b-1']
const STEP_MS = 1_000
/** in the past (only the future is refused), 30 s before an hour ends: the snapshots fill several raw buckets and two hourly ones */
const FIRST_TS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 30_000

/** Every read route a dashboard uses, with fixed ranges (a range that ends "now" moves between two requests). */
function routes(): string[] {
  const start = FIRST_TS - 3_600_000
  const end = Date.now() + 60_000
  const range = `start=${start}&end=${end}`
  return [
    '/healthz',
    '/api/v2/clusters',
    ...['A', 'B'].flatMap((cluster) => [
      `/api/v2/clusters/${cluster}/node-metrics`,
      `/api/v2/clusters/${cluster}/snapshot`,
      `/api/v2/clusters/${cluster}/history?metric=cpu_usage&${range}`,
      `/api/v2/clusters/${cluster}/history?metric=cpu_usage&${range}&step=1h`,
      `/api/v2/node-metrics?cluster_id=${cluster}`,
    ]),
    ...A_NODES.flatMap((node) => [
      `/api/v2/clusters/A/node-metrics/${node}`,
      `/api/v2/clusters/A/node-metrics/${node}/history?${range}`,
      `/api/v2/clusters/A/node-metrics/${node}/history?${range}&step=1h`,
      `/api/v2/node-metrics/${node}?cluster_id=A`,
    ]),
    `/api/v2/clusters/B/node-metrics/b-1/history?${range}`,
  ]
}

/** What a route answers, as a client compares it: status, body and the headers that carry data. */
async function answer(api: string, path: string) {
  const response = await fetch(`${api}${path}`)
  const headers = ['etag', 'x-node-status', 'x-node-figures', 'content-type'].map((name) => `${name}: ${response.headers.get(name)}`)
  return { path, status: response.status, headers, body: await response.text() }
}

/** Both masters' answers to the same requests. */
async function answersOfBoth(one: MasterProcess, two: MasterProcess) {
  const paths = routes()
  const answers: [Awaited<ReturnType<typeof answer>>, Awaited<ReturnType<typeof answer>>][] = []
  for (const path of paths) answers.push([await answer(one.api, path), await answer(two.api, path)])
  return answers
}

/** Points each node has in a tier's table: every acknowledged snapshot must be counted once. */
async function samplesPerNode(table: string): Promise<Record<string, number>> {
  const rows: { name: string; samples: string | number }[] = await sql!.unsafe(
    `SELECT n.cluster_id || '/' || n.node_name AS name, SUM(h.samples) AS samples
       FROM ${table} h JOIN nodes n ON n.id = h.node_id GROUP BY 1 ORDER BY 1`,
  )
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.samples)]))
}

describe.if(ready)('two masters on one PostgreSQL and Redis', () => {
  test("A's agent posts to master 1, B's to master 2; both answer every route identically", async () => {
    const a = failoverAgent('A', A_NODES, () => masters.map((master) => master!.ingest), FIRST_TS, STEP_MS)
    const b = failoverAgent('B', B_NODES, () => [masters[1]!.ingest], FIRST_TS + 500, STEP_MS)
    await waitFor(() => a.sent.length >= 40 && b.sent.length >= 40, 60_000)
    await Promise.all([a.stop(), b.stop()])
    expect(a.acknowledgedBy.every((index) => index === 0)).toBe(true)

    // Redis carries each master's commits and heartbeats to the other within moments.
    const [one, two] = [masters[0]!, masters[1]!]
    await waitFor(async () => (await answer(one.api, '/api/v2/clusters')).body === (await answer(two.api, '/api/v2/clusters')).body, 10_000)
    const answers = await answersOfBoth(one, two)
    for (const [mine, theirs] of answers) {
      expect(mine.status).toBe(200)
      expect(theirs).toEqual(mine)
    }
    const clusters = JSON.parse(answers[1]![0].body).clusters
    expect(clusters.map((cluster: { cluster_id: string; nodes: number }) => [cluster.cluster_id, cluster.nodes])).toEqual([['A', 3], ['B', 2]])
  })

  test('kill -9 master 1 while A posts: A goes on at master 2, and every acknowledged snapshot is stored once in both tiers', async () => {
    const before = { raw: await samplesPerNode('node_metrics_history'), hourly: await samplesPerNode('node_metrics_history_hourly') }
    const firstTs = FIRST_TS + 100 * STEP_MS
    const a = failoverAgent('A', A_NODES, () => masters.map((master) => master!.ingest), firstTs, STEP_MS)
    await waitFor(() => a.sent.length >= 20, 30_000)
    masters[0]!.proc.kill('SIGKILL')
    await masters[0]!.proc.exited
    await waitFor(() => a.on === 1 && a.acknowledgedBy.filter((index) => index === 1).length >= 20, 30_000)
    await a.stop()
    expect(a.acknowledgedBy.slice(0, 20).every((index) => index === 0)).toBe(true)

    const after = { raw: await samplesPerNode('node_metrics_history'), hourly: await samplesPerNode('node_metrics_history_hourly') }
    for (const node of A_NODES) {
      for (const tier of ['raw', 'hourly'] as const) {
        // Each snapshot once: the one master 1 may have committed without answering was sent again to
        // master 2, which knew it was not newer and counted nothing.
        expect(after[tier][`A/${node}`]! - before[tier][`A/${node}`]!).toBe(a.sent.length)
      }
    }
    const [latest] = await sql!`SELECT MAX(snapshot_ms) AS newest FROM node_metrics_latest WHERE cluster_id = 'A'`
    expect(Number(latest.newest)).toBe(a.sent.at(-1)!)

    // The history reads back the figures sent: the mean CPU of each raw bucket of a-0.
    const start = firstTs - (firstTs % (SAMPLE_INTERVAL_S * 1000))
    const history = await (await fetch(`${masters[1]!.api}/api/v2/clusters/A/node-metrics/a-0/history?start=${start}&end=${a.sent.at(-1)! + 1}`)).json() as { history: { timestamp: number; cpu_usage: number }[] }
    const expected = new Map<number, number[]>()
    for (const ts of a.sent) {
      const bucket = ts - (ts % (SAMPLE_INTERVAL_S * 1000))
      expected.set(bucket, [...(expected.get(bucket) ?? []), a.cpuOf(ts, 0)])
    }
    const means = history.history.map((point: { timestamp: number; cpu_usage: number }) => [point.timestamp, point.cpu_usage])
    expect(means).toEqual([...expected].map(([bucket, values]) => [bucket, Math.round((values.reduce((x, y) => x + y, 0) * 100) / values.length) / 100]))
  })

  test('master 1 started again on the same stores answers as master 2 does', async () => {
    masters[0] = await spawnMaster(env())
    const [one, two] = [masters[0], masters[1]!]
    for (const [mine, theirs] of await answersOfBoth(one, two)) expect(theirs).toEqual(mine)
  })
})
