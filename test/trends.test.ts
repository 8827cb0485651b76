import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { resolveRange } from '../src/gateway/range'
import { historyTiers } from '../src/storage/tiers'
import { disposeMaster, getJson, postSnapshot, readDb, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const HOUR = 3_600_000
let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

async function post(node: string, ts: number, cpu: number, clusterId = 'c') {
  const response = await postSnapshot(master!.ingest, clusterSnapshot(clusterId, [nodeSnapshot(node, ts, { cpu, temp: 40 + cpu / 10 })]), { clusterId })
  expect(response.status).toBe(200)
}

describe('tier choice and buckets (unit)', () => {
  const tiers = historyTiers({ sampleIntervalMs: 300_000, retentionMs: 30 * 24 * HOUR, retentionHourlyMs: 365 * 24 * HOUR })
  const now = Date.UTC(2026, 10, 25, 12)

  test('hours alone reads every raw point, as always', () => {
    expect(resolveRange({ hours: 720 }, tiers, now)).toMatchObject({ tier: { name: 'raw' }, widthS: 300, startMs: now - 720 * HOUR })
    expect(resolveRange({}, tiers, now)).toMatchObject({ tier: { name: 'raw' }, startMs: now - 24 * HOUR, endMs: now })
  })

  test('a range past RETENTION, or a step of an hour or more, reads the hourly tier', () => {
    expect(resolveRange({ start: String(now - 60 * 24 * HOUR) }, tiers, now).tier.name).toBe('hourly')
    expect(resolveRange({ start: new Date(now - 2 * HOUR).toISOString(), step: '1h' }, tiers, now)).toMatchObject({ tier: { name: 'hourly' }, widthS: 3600 })
    expect(resolveRange({ start: String(now - 2 * HOUR), step: '10m' }, tiers, now)).toMatchObject({ tier: { name: 'raw' }, widthS: 600 })
  })

  test('max_points widens buckets so that no more points come back', () => {
    // 30 days in 500 points: buckets of ~1.5 h, so the hourly tier is fine enough.
    const month = resolveRange({ start: String(now - 30 * 24 * HOUR), max_points: 500 }, tiers, now)
    expect(month.tier.name).toBe('hourly')
    expect(Math.ceil((30 * 24 * 3600) / month.widthS) + 1).toBeLessThanOrEqual(500)
    expect(month.widthS % 3600).toBe(0)
    // A day in 300 points: 5-minute buckets, read from the raw tier as they are.
    const day = resolveRange({ hours: 24, max_points: 300 }, tiers, now)
    expect(day).toMatchObject({ tier: { name: 'raw' }, widthS: 300 })
  })
})

describe('history over HTTP', () => {
  test('hourly tier: the average of the buckets weighted by their samples, and the peak of peaks', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const hour = Math.floor(Date.now() / HOUR) * HOUR - HOUR // the previous, complete hour
    await post('n1', hour + 1_000, 10)
    await post('n1', hour + 1_500, 20) // same 1 s bucket as the first
    await post('n1', hour + 5_000, 60)
    expect(readDb(master.dbPath, 'SELECT bucket_s, samples, cpu_sum, cpu_n, cpu_max FROM node_metrics_history_hourly')).toEqual([
      { bucket_s: hour / 1000, samples: 3, cpu_sum: 9000, cpu_n: null, cpu_max: 6000 }, // count NULL: all samples had it
    ])
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?start=${hour}&end=${hour + HOUR}&step=1h`)
    expect(body).toMatchObject({ tier: 'hourly', step: 3600, points: 1 })
    expect(body.history[0]).toMatchObject({ timestamp: hour, cpu_usage: 30, cpu_usage_max: 60 })
    // The raw tier holds the two buckets the hour summarises.
    const raw = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?start=${new Date(hour).toISOString()}&end=${hour + HOUR}`)
    expect(raw.body.tier).toBe('raw')
    expect(raw.body.history.map((p: any) => [p.cpu_usage, p.cpu_usage_max])).toEqual([[15, 20], [60, 60]])
  })

  test('downsampling: max_points bounds the answer; buckets average by samples and keep the peak', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000
    for (let i = 0; i < 40; i++) await post('n1', base + i * 1_000, i === 17 ? 95 : 10 + (i % 4))
    const url = (query: string) => `${master!.api}/api/v2/clusters/c/node-metrics/n1/history?start=${base}&end=${base + 40_000}&${query}`
    const full = await getJson(url('max_points=100'))
    expect(full.body.points).toBe(40)
    const coarse = await getJson(url('max_points=5'))
    expect(coarse.body.points).toBeLessThanOrEqual(5)
    expect(coarse.body.step % 1).toBe(0)
    const all = full.body.history as { cpu_usage: number; cpu_usage_max: number }[]
    const mean = all.reduce((sum, point) => sum + point.cpu_usage, 0) / all.length
    // The spike survives as a peak however coarse the buckets, and no peak is invented.
    expect(Math.max(...coarse.body.history.map((point: { cpu_usage_max: number }) => point.cpu_usage_max))).toBe(95)
    expect(Math.max(...coarse.body.history.map((point: { cpu_usage: number }) => point.cpu_usage))).toBeLessThan(95)
    const step = await getJson(url('step=10s'))
    expect(step.body.step).toBe(10)
    expect(step.body.points).toBeLessThanOrEqual(5)
    // One bucket over everything: the plain mean of the 40 one-sample points.
    const one = await getJson(url('step=1h'))
    expect(one.body.points).toBe(1)
    expect(one.body.history[0].cpu_usage).toBeCloseTo(mean, 1)
  })

  test('the fleet chart: one metric of every node of a cluster in one answer', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const base = Math.floor(Date.now() / 1_000) * 1_000 - 30_000
    for (let i = 0; i < 10; i++) {
      await post('a', base + i * 1_000, 10 + i)
      await post('b', base + i * 1_000, 50)
    }
    await post('other', base, 99, 'elsewhere')
    // Every SAMPLE_INTERVAL point when asked for with step; without step or max_points, at most 300 points.
    const { status, body } = await getJson(`${master.api}/api/v2/clusters/c/history?metric=cpu_usage&hours=1&step=1`)
    expect(status).toBe(200)
    const bounded = await getJson(`${master.api}/api/v2/clusters/c/history?metric=cpu_usage&hours=1`)
    expect(bounded.body.step).toBe(Math.ceil(3_600 / 299))
    expect(body).toMatchObject({ cluster_id: 'c', metric: 'cpu_usage', tier: 'raw', step: 1 })
    expect(Object.keys(body.nodes)).toEqual(['a', 'b'])
    expect(body.nodes.a.map((point: { value: number }) => point.value)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(body.nodes.b[0]).toEqual({ timestamp: base, value: 50, max: 50 })
    const chart = await getJson(`${master.api}/api/v2/clusters/c/history?metric=cpu_usage&hours=24&max_points=300`)
    expect(chart.status).toBe(200)
    for (const series of Object.values(chart.body.nodes) as unknown[][]) expect(series.length).toBeLessThanOrEqual(300)
    const temperature = await getJson(`${master.api}/api/v2/clusters/c/history?metric=temperature&start=${base}&step=1h`)
    expect(temperature.body.nodes.a).toEqual([{ timestamp: Math.floor(base / HOUR) * HOUR, value: 41.5, max: 41.9 }])
  })

  test('bad ranges are 400s that say what is wrong', async () => {
    master = await startTestMaster()
    await post('n1', Date.now() - 1_000, 10)
    const history = `${master.api}/api/v2/clusters/c/node-metrics/n1/history`
    const cases: [string, RegExp][] = [
      [`${history}?start=yesterday`, /'start' "yesterday": expected epoch seconds, epoch milliseconds or RFC 3339/],
      [`${history}?hours=2&start=${Date.now() - HOUR}`, /either hours or start\/end/],
      [`${history}?start=${Date.now()}&end=${Date.now() - HOUR}`, /start must be before end/],
      [`${history}?step=soon`, /'step' "soon"/],
      [`${history}?step=9223372036854775808`, /'step' .*up to 10 years/],
      [`${history}?start=-1`, /'start' "-1": expected epoch seconds, epoch milliseconds or RFC 3339/],
      [`${history}?start=2026-02-30T00:00:00Z`, /'start' "2026-02-30T00:00:00Z"/],
      [`${history}?start=${Date.now() - HOUR}&end=99999999999999999`, /'end'/],
      [`${history}?max_points=1`, /max_points/],
      [`${master.api}/api/v2/clusters/c/history?metric=load`, /metric/],
      [`${master.api}/api/v2/clusters/c/history`, /^missing query parameter 'metric': expected one of cpu_usage/],
    ]
    for (const [url, message] of cases) {
      const { status, body } = await getJson(url)
      expect(status).toBe(400)
      expect(body.message).toMatch(message)
    }
  })
})
