import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIGURES } from '../src/model/figures'
import { getJson, postSnapshot, readDb, removeDb, startTestMaster, type RunningMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * test/fixtures/schema-v2.sqlite was written by the master as it was before per-figure history
 * (schema version 2, commit 9a43fec), through its HTTP API, with SAMPLE_INTERVAL=5m:
 * node "a": three snapshots in the 12:00 bucket of 2026-11-27 (UTC) — CPU 10, 20, 60; the middle
 * one without a temperature (10, –, 40) — and one at 12:05:10 (CPU 33.33, 55.5 °C); node "b": one
 * snapshot without a temperature. The old schema kept one running mean per figure and one sample
 * count for all, so a's 12:00 temperature was stored as 20.0 °C.
 */
const FIXTURE = join(import.meta.dir, 'fixtures/schema-v2.sqlite')
const HOUR = Date.UTC(2026, 10, 27, 12)
const ENV = { SAMPLE_INTERVAL: '5m', RETENTION: '3650d', RETENTION_HOURLY: '3650d' }

describe('a database written by the previous schema upgrades in place, data included', () => {
  let master: RunningMaster
  let dbPath: string

  beforeAll(async () => {
    dbPath = join(mkdtempSync(join(tmpdir(), 'nmm-migrate-')), 'metrics.db')
    copyFileSync(FIXTURE, dbPath)
    expect(readDb(dbPath, 'PRAGMA user_version')).toEqual([{ user_version: 2 }])
    master = await startTestMaster(ENV, dbPath)
  })
  afterAll(async () => {
    await master.stop()
    removeDb(dbPath)
  })

  const history = async (node: string, query = '') =>
    (await getJson(`${master.api}/api/v2/clusters/old/node-metrics/${node}/history?start=${HOUR}&end=${HOUR + 600_000}${query}`)).body

  test('the file is at the new version and intact; each figure has a sum, a count and a peak', () => {
    expect(readDb(dbPath, 'PRAGMA user_version')).toEqual([{ user_version: 6 }])
    expect(readDb(dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
    const columns = readDb<{ name: string }>(dbPath, 'PRAGMA table_info(node_metrics_history)').map((column) => column.name)
    expect(columns).toEqual(['node_id', 'bucket_s', 'samples', ...FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])])
    expect(readDb(dbPath, 'SELECT bucket_s, samples, cpu_sum, cpu_n, cpu_max, temp_sum, temp_n, temp_max, load1_n FROM node_metrics_history WHERE node_id = 2')).toEqual([
      { bucket_s: HOUR / 1000, samples: 1, cpu_sum: 500, cpu_n: null, cpu_max: 500, temp_sum: null, temp_n: 0, temp_max: null, load1_n: 0 },
    ])
  })

  test('migration 4: times named by unit, received_ms back-filled from the snapshot time, identities keep the latest rows\' ids', () => {
    const latest = readDb<{ name: string }>(dbPath, 'PRAGMA table_info(node_metrics_latest)').map((column) => column.name)
    expect(latest).toContain('snapshot_ms')
    expect(latest).toContain('received_ms')
    expect(latest).not.toContain('timestamp')
    expect(readDb<{ name: string }>(dbPath, 'PRAGMA table_info(node_metrics_history_hourly)').map((column) => column.name).slice(0, 2))
      .toEqual(['node_id', 'bucket_s'])
    // Node b's snapshot was never replaced by a test below: it still has its back-filled receipt time.
    expect(readDb(dbPath, "SELECT received_ms = snapshot_ms AS same FROM node_metrics_latest WHERE node_name = 'b'")).toEqual([{ same: 1 }])
    expect(readDb(dbPath, 'SELECT n.id, n.cluster_id, n.node_name FROM nodes n JOIN node_metrics_latest l USING (id, cluster_id, node_name) ORDER BY id'))
      .toEqual(readDb(dbPath, 'SELECT id, cluster_id, node_name FROM node_metrics_latest ORDER BY id'))
    expect(readDb(dbPath, 'SELECT COUNT(*) AS n FROM nodes')).toEqual([{ n: 2 }])
  })

  test('every point reads as it did: averages and peaks kept, a figure never stored reads null', async () => {
    const a = await history('a')
    expect(a.points).toBe(2)
    expect(a.history[0]).toMatchObject({
      timestamp: HOUR, cpu_usage: 30, cpu_usage_max: 60, mem_usage: 50, mem_usage_max: 60, net_rx_bytes_ps: 2000, net_rx_bytes_ps_max: 3000,
      temperature: 20, temperature_max: 40, // as the old schema stored it; the sample it lacked cannot be told apart now
      disk_read_bytes_ps: null, load_1: null, // figures the old schema did not keep
    })
    expect(a.history[1]).toMatchObject({ timestamp: HOUR + 300_000, cpu_usage: 33.33, temperature: 55.5, mem_usage: 47.12, net_tx_bytes_ps: 99 })
    const b = await history('b')
    expect(b.history[0]).toMatchObject({ cpu_usage: 5, temperature: null, temperature_max: null })
    const hourly = await history('a', '&step=1h')
    expect(hourly.tier).toBe('hourly')
    expect(hourly.history[0]).toMatchObject({ cpu_usage: 30.83, cpu_usage_max: 60 })
  })

  test('latest rows are served as before, and the figures the old schema lacked are derived from their snapshots', async () => {
    const detail = await getJson(`${master.api}/api/v2/clusters/old/node-metrics/a`)
    expect(detail.body).toMatchObject({ node_name: 'a', cpu: { usage_percent: 33.33 }, temperature: { cpu_temp: 55.5 } })
    const list = await getJson(`${master.api}/api/v2/clusters/old/node-metrics`)
    expect(Object.keys(list.body.nodes)).toEqual(['a', 'b'])
    expect(list.body.summary).toMatchObject({ metrics_nodes: 2, max_temp: 55.5, max_temp_node: 'a', total_cores: 4 })
    // Nodes that may never report again still have every figure of the registry.
    expect(list.body.node_figures.a).toEqual({
      cpu_usage: 33.33, mem_usage: 47.12, disk_usage: 30, temperature: 55.5, net_rx_bytes_ps: 1234, net_tx_bytes_ps: 99,
      disk_read_bytes_ps: 1000, disk_write_bytes_ps: 2000, load_1: 0.5, disk_max: 30,
    })
    expect(list.body.node_figures.b).toMatchObject({ cpu_usage: 5, temperature: null, net_rx_bytes_ps: 1000 })
    const atlhyper = await getJson(`${master.api}/api/v2/node-metrics?cluster_id=old`)
    expect(atlhyper.body.summary).toMatchObject({ total_disk: 2e11, used_disk: 6e10, max_disk_usage: 30 })
  })

  test('new snapshots go on filling a migrated bucket with per-figure counts', async () => {
    const next: any = nodeSnapshot('a', HOUR + 320_000, { cpu: 40 })
    delete next.temperature
    const response = await postSnapshot(master.ingest, clusterSnapshot('old', [next]), { clusterId: 'old' })
    expect(response.status).toBe(200)
    const point = (await history('a')).history[1]
    // CPU (33.33 + 40) / 2; the temperature keeps its one sample; load has its first.
    expect(point).toMatchObject({ cpu_usage: 36.67, cpu_usage_max: 40, temperature: 55.5, load_1: 0.5, load_1_max: 0.5 })
  })
})
