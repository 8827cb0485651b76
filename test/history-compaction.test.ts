import { afterEach, expect, setDefaultTimeout, test } from 'bun:test'
import { disposeMaster, postSnapshot, readDb, type RunningMaster, startTestMaster } from './support/master'
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

  // The cleanup tick (here asked for) compacts what has closed: every whole day before today's.
  master.cleanup()
  await waitFor(() => readDb<{ n: number }>(master!.dbPath, 'SELECT COUNT(*) AS n FROM node_metrics_history_chunks')[0]!.n >= 6, 20_000)
  const open = readDb<{ first: number }>(master.dbPath, 'SELECT MIN(bucket_s) AS first FROM node_metrics_history')[0]!.first
  expect(open * 1000).toBeGreaterThanOrEqual(Math.floor((Date.now() - 5 * MINUTE) / DAY) * DAY)

  const after = await answers(start - DAY, end + MINUTE)
  expect([...after.keys()]).toEqual([...before.keys()])
  for (const [url, body] of before) expect(after.get(url), url).toBe(body)
  const metrics = await (await fetch(`${master.api}/metrics`)).text()
  expect(Number(/nmm_history_compacted_points_total\{tier="raw"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(500)
})
