import { afterEach, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { disposeMaster, getJson, postSnapshot, readDb, type RunningMaster, startTestMaster } from './support/master'
import { openWriteConnection } from '../src/storage/connection'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { historyTiers } from '../src/storage/tiers'
import { samples } from './support/history-data'
import { rowLayoutHistory } from './support/row-layout'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'
import { waitFor } from './support/wait'
import { FIGURE_FIELDS } from '../src/model/figures'

// Real servers and Workers: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(60_000)

const MINUTE = 60_000
const DAY = 1_440 * MINUTE
let master: RunningMaster | undefined

afterEach(async () => {
  master = await disposeMaster(master)
})

/** Every history answer the gateway gives for cluster c, as the bytes it sends. */
async function answers(startMs: number, endMs: number): Promise<Map<string, string>> {
  const range = `start=${startMs}&end=${endMs}`
  const urls = [
    ...['a', 'b'].flatMap((node) => [
      `/api/v2/clusters/c/node-metrics/${node}/history?${range}`,
      `/api/v2/clusters/c/node-metrics/${node}/history?${range}&step=1h`,
      `/api/v2/clusters/c/node-metrics/${node}/history?${range}&max_points=7`,
    ]),
    ...FIGURE_FIELDS.map((metric) => `/api/v2/clusters/c/history?metric=${metric}&${range}&step=15m`),
  ]
  const out = new Map<string, string>()
  for (const url of urls) {
    const response = await fetch(`${master!.api}${url}`)
    expect(response.status).toBe(200)
    out.set(url, await response.text())
  }
  return out
}

test('the writer compacts closed days through the real pipeline; the API answers the same bytes before and after', async () => {
  master = await startTestMaster()
  // Three days of two nodes, every 10 minutes, posted by an agent now (its snapshots carry their own times).
  const end = Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE
  const start = end - 3 * DAY
  for (let ts = start, seq = 0; ts <= end; ts += 10 * MINUTE, seq++) {
    const nodes = ['a', 'b'].map((name, index) =>
      nodeSnapshot(name, ts, { cpu: (seq * 7 + index * 13) % 100 + 0.25, mem: 30 + (seq % 9) * 1.5 }))
    const response = await postSnapshot(master.ingest, clusterSnapshot('c', nodes), { clusterId: 'c' })
    expect(response.status).toBe(200)
  }
  const before = await answers(start - DAY, end + MINUTE)
  expect(readDb<{ n: number }>(master.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_history_chunks')).toEqual([{ n: 0 }])

  // The cleanup tick (here asked for, as of a time of our choosing) compacts what has closed: the
  // days that ended a bucket before it — the four days the posts touched but today's.
  const today = Math.floor(end / DAY) * DAY
  master.cleanup(today + 10 * MINUTE)
  await waitFor(() => readDb<{ n: number }>(master!.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_history_chunks')[0]!.n === 2 * 3, 20_000)
  const open = readDb<{ first: number | null }>(master.dbPath, 'SELECT MIN(bucket_s) AS first FROM node_metrics_history')[0]!.first
  expect(open === null || open * 1000 >= today).toBe(true)

  const after = await answers(start - DAY, end + MINUTE)
  expect([...after.keys()]).toEqual([...before.keys()])
  for (const [url, body] of before) expect(after.get(url), url).toBe(body)
  const metrics = await (await fetch(`${master.api}/metrics`)).text()
  expect(Number(/nmm_history_compacted_points_total\{tier="raw"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(500)
})

test('a file written before chunks is compacted when the master starts, and reads the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-legacy-'))
  const dbPath = join(dir, 'metrics.db')
  const today = Math.floor(Date.now() / DAY) * DAY
  const settings = { sampleIntervalMs: 5 * MINUTE, retentionMs: 30 * DAY, retentionHourlyMs: 365 * DAY }
  const db = openWriteConnection(dbPath)
  const writer = new MetricsWriter(db, settings)
  // Three whole days that ended a day ago or more: closed whatever the time of day the test runs.
  const rows = samples(['a', 'b'], today - 4 * DAY, today - DAY).map((row) => ({ ...row, cluster: 'c' }))
  for (let i = 0; i < rows.length; i += 1_000) writer.write(rows.slice(i, i + 1_000))
  db.exec(`VACUUM INTO '${join(dir, 'reference.db')}'`)
  db.close()

  master = await startTestMaster({}, dbPath)
  await waitFor(() => readDb<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_history')[0]!.n === 0, 20_000)
  expect(readDb<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_history_chunks')[0]!.n).toBe(6)

  const reference = new Database(join(dir, 'reference.db'), { readonly: true })
  const [raw] = historyTiers(settings)
  for (const [index, node] of ['a', 'b'].entries()) {
    const fromS = (today - 5 * DAY) / 1000
    const toS = Math.floor(Date.now() / 1000)
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/${node}/history?start=${fromS}&end=${toS}`)
    // The route reads buckets overlapping the range: from one bucket before `start`.
    expect(JSON.stringify(body.history)).toBe(JSON.stringify(rowLayoutHistory(reference, index + 1, raw!, fromS - 299, toS + 1, 300)))
  }
  reference.close()
})
