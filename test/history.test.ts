import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { disposeMaster, getJson, postSnapshot, readDb, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'
import { FIGURES } from '../src/model/figures'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const HOUR = 3_600_000
let master: RunningMaster | undefined

afterEach(async () => {
  master = await disposeMaster(master)
})

async function post(cpu: number, ts: number, node = 'n1') {
  const response = await postSnapshot(master!.ingest, clusterSnapshot('c', [nodeSnapshot(node, ts, { cpu })]), { clusterId: 'c' })
  expect(response.status).toBe(200)
}

describe('latest and history', () => {
  test('the newest snapshot overwrites the latest row; an older one does not', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const base = Date.now() - 60_000
    await post(10, base)
    await post(20, base + 5_000)
    // Arrives late: older than what is stored, so it changes nothing — and the answer says so.
    const late = await postSnapshot(master.ingest, clusterSnapshot('c', [nodeSnapshot('n1', base + 2_000, { cpu: 99 })]), { clusterId: 'c' })
    expect(await late.json()).toEqual({ status: 'ok', nodes: 0, not_newer: 1 })
    const rows = readDb<{ snapshot_ms: number; cpu: number }>(master.dbPath, 'SELECT snapshot_ms, cpu FROM node_metrics_latest')
    expect(rows).toEqual([{ snapshot_ms: base + 5_000, cpu: 20 }])
    // The node list, answered from a cache until the cluster changes, shows each new snapshot.
    const list = async () => (await getJson(`${master!.api}/api/v2/clusters/c/node-metrics`)).body.summary.avg_cpu
    expect(await list()).toBe(20)
    expect(await list()).toBe(20)
    await post(30, base + 6_000)
    expect(await list()).toBe(30)
    const detail = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1`)
    expect(detail.body.cpu.usage_percent).toBe(30)
  })

  test('one point per SAMPLE_INTERVAL bucket, aligned on the snapshot time, ascending, averaging its snapshots', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const bucket = Math.floor(Date.now() / 1_000) * 1_000 - 30_000
    await post(10, bucket + 100)
    await post(20, bucket + 500)
    await post(60, bucket + 999)
    await post(40, bucket + 1_000)
    await post(50, bucket + 3_400)
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)
    expect(body.points).toBe(3)
    expect(body.history.map((point: { timestamp: number }) => point.timestamp)).toEqual([bucket, bucket + 1_000, bucket + 3_000])
    expect(body.history.map((point: { cpu_usage: number }) => point.cpu_usage)).toEqual([30, 40, 50])
    expect(body.history.map((point: { cpu_usage_max: number }) => point.cpu_usage_max)).toEqual([60, 40, 50])
    // Every figure of the registry, with its peak.
    expect(Object.keys(body.history[0])).toEqual(['timestamp', ...FIGURES.flatMap((figure) => [figure.field, `${figure.field}_max`])])
    // No second row for a bucket, in the file itself.
    const counts = readDb<{ n: number; buckets: number }>(
      master.dbPath, 'SELECT COUNT(*) AS n, COUNT(DISTINCT bucket_s) AS buckets FROM node_metrics_history')
    expect(counts).toEqual([{ n: 3, buckets: 3 }])
  })

  test('points keep two decimals of percentages, one of temperatures, whole bytes/s', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const bucket = Math.floor(Date.now() / 1_000) * 1_000 - 20_000
    const node = (ts: number, cpu: number) => {
      const snapshot = nodeSnapshot('n1', ts, { cpu, mem: 47.126, temp: 58.53, rx: 1234.6, tx: 99.4 })
      snapshot.disks[0]!.usage_percent = 71.239
      return snapshot
    }
    for (const [ts, cpu] of [[bucket + 10, 33.33], [bucket + 20, 33.34], [bucket + 30, 33.35]] as const) {
      const response = await postSnapshot(master.ingest, clusterSnapshot('c', [node(ts, cpu)]), { clusterId: 'c' })
      expect(response.status).toBe(200)
    }
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)
    expect(body.history).toEqual([{
      timestamp: bucket, cpu_usage: 33.34, mem_usage: 47.13, disk_usage: 71.24, temperature: 58.5,
      net_rx_bytes_ps: 1235, net_tx_bytes_ps: 99, disk_read_bytes_ps: 1000, disk_write_bytes_ps: 2000, load_1: 0.5,
      cpu_usage_max: 33.35, mem_usage_max: 47.13, disk_usage_max: 71.24, temperature_max: 58.5,
      net_rx_bytes_ps_max: 1235, net_tx_bytes_ps_max: 99, disk_read_bytes_ps_max: 1000, disk_write_bytes_ps_max: 2000, load_1_max: 0.5,
    }])
  })

  test('hours bounds the history; the default is 24', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const now = Date.now()
    await post(1, now - 30 * HOUR)
    await post(2, now - 3 * HOUR)
    await post(3, now - 60_000)
    const cpu = async (query: string) => {
      const { body } = await getJson(`${master!.api}/api/v2/clusters/c/node-metrics/n1/history${query}`)
      return body.history.map((point: { cpu_usage: number }) => point.cpu_usage)
    }
    expect(await cpu('?hours=1')).toEqual([3])
    expect(await cpu('?hours=4')).toEqual([2, 3])
    expect(await cpu('')).toEqual([2, 3])
    expect(await cpu('?hours=31')).toEqual([1, 2, 3])
  })

  test('retention: points older than RETENTION are gone after a cleanup tick', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s', RETENTION: '5s', CLEANUP_INTERVAL: '200ms' })
    const now = Date.now()
    await post(1, now - 4_000)
    await post(2, now)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_history')).toHaveLength(2)
    // Buckets start up to 1 s before their snapshot: from 1 s on the first is over 5 s old, and the
    // second stays under 5 s old for at least 4 s. Cleanup ticks every 200 ms.
    const cpus = () => readDb<{ cpu: number }>(master!.dbPath, 'SELECT cpu_sum AS cpu FROM node_metrics_history').map((row) => row.cpu)
    const deadline = Date.now() + 3_000
    while (cpus().length > 1 && Date.now() < deadline) await Bun.sleep(50)
    expect(cpus()).toEqual([200]) // stored as % × 100
    // The latest row is not history: it stays.
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toHaveLength(1)
  })

  test('a restart mid-bucket loses no acknowledged sample: the bucket goes on averaging', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1h' })
    const hour = Math.floor(Date.now() / HOUR) * HOUR
    await post(10, hour + 1_000)
    await post(20, hour + 2_000)
    const dbPath = master.dbPath
    await master.stop()
    master = await startTestMaster({ SAMPLE_INTERVAL: '1h' }, dbPath)
    await post(90, hour + 3_000)
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=2`)
    expect(body.history).toHaveLength(1)
    expect(body.history[0]).toMatchObject({ timestamp: hour, cpu_usage: 40, cpu_usage_max: 90 })
    expect(readDb(dbPath, 'SELECT samples FROM node_metrics_history')).toEqual([{ samples: 3 }])
  })

  test('restart on the same database: latest and history are still served', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const base = Math.floor(Date.now() / 1_000) * 1_000 - 10_000
    await post(11, base)
    await post(22, base + 2_000)
    const before = {
      list: await getJson(`${master.api}/api/v2/clusters/c/node-metrics`),
      history: await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`),
    }
    const dbPath = master.dbPath
    await master.stop()
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' }, dbPath)
    const list = await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)
    const history = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)
    expect(list).toEqual(before.list)
    expect(history.body.history).toEqual(before.history.body.history)
    expect(history.body.points).toBe(2)
    // And it keeps writing where it left off.
    await post(33, base + 4_000)
    const after = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)
    expect(after.body.history.map((point: { cpu_usage: number }) => point.cpu_usage)).toEqual([11, 22, 33])
  })
})
