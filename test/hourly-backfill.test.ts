import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MIGRATIONS, migrate } from '../src/storage/migrations'
import { getJson, readDb, removeDb, startTestMaster, type RunningMaster } from './support/master'
import { nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * Migration 4 fills the hourly tier from the raw tier where a file has no hourly points for its
 * past: a schema-v1 file (before the hourly tier) upgraded to now gets them, weighted by samples.
 */

const HOUR = 3_600_000
const MINUTE = 60_000
const H0 = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR
const H1 = H0 + HOUR

/** A v1 raw point: one mean per figure in its scaled integer (% × 100, °C × 10, bytes/s), and its sample count. */
type V1Point = { node: number; at: number; samples: number; cpu: number; mem: number; temp: number | null; rx: number | null }

const V1_POINTS: V1Point[] = [
  // node a (id 1), hour H0: CPU 10 % × 2 samples, 40 % × 1, 10 % × 1; temperature in 3 of the 4 samples.
  { node: 1, at: H0, samples: 2, cpu: 1000, mem: 5000, temp: 400, rx: 100 },
  { node: 1, at: H0 + 5 * MINUTE, samples: 1, cpu: 4000, mem: 6000, temp: null, rx: 400 },
  { node: 1, at: H0 + 10 * MINUTE, samples: 1, cpu: 1000, mem: 5000, temp: 700, rx: 100 },
  // node a, hour H1: no network rate at all.
  { node: 1, at: H1, samples: 3, cpu: 2000, mem: 5000, temp: 500, rx: null },
  // node b (id 2): never a temperature.
  { node: 2, at: H0 + 15 * MINUTE, samples: 1, cpu: 500, mem: 1000, temp: null, rx: 1000 },
  { node: 2, at: H1 + 10 * MINUTE, samples: 2, cpu: 7000, mem: 2000, temp: null, rx: 3000 },
]

/** A file exactly as the master of schema v1 wrote it: migration 1 only, its latest rows and raw points. */
function writeV1File(path: string): void {
  const db = new Database(path, { create: true })
  db.exec(MIGRATIONS[0] as string)
  db.exec('PRAGMA user_version = 1')
  const latest = db.query('INSERT INTO node_metrics_latest (id, cluster_id, node_name, timestamp, cpu, mem, temp, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  for (const [id, name, cpu] of [[1, 'a', 10], [2, 'b', 70]] as const) {
    const snapshot = nodeSnapshot(name, H1 + 20 * MINUTE, { cpu })
    latest.run(id, 'old', name, H1 + 20 * MINUTE, cpu, 50, null, Buffer.from(JSON.stringify(snapshot)))
  }
  const point = db.query('INSERT INTO node_metrics_history (node_id, timestamp, samples, cpu, mem, disk, temp, net_rx, net_tx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
  for (const p of V1_POINTS) point.run(p.node, p.at / 1000, p.samples, p.cpu, p.mem, 3000, p.temp, p.rx, p.rx)
  db.close()
}

describe('a schema-v1 file gets hourly points for its past on upgrade', () => {
  let master: RunningMaster
  let dbPath: string

  beforeAll(async () => {
    dbPath = join(mkdtempSync(join(tmpdir(), 'nmm-backfill-')), 'metrics.db')
    writeV1File(dbPath)
    master = await startTestMaster({ SAMPLE_INTERVAL: '5m' }, dbPath)
  })
  afterAll(async () => {
    await master.stop()
    removeDb(dbPath)
  })

  const hourly = async (node: string) => {
    const { body } = await getJson(`${master.api}/api/v2/clusters/old/node-metrics/${node}/history?start=${H0}&end=${H1 + HOUR - 1}&step=1h`)
    expect(body.tier).toBe('hourly')
    return body.history
  }

  test('averages weighted by samples, peaks of the (mean-as-peak) raw points, null where no sample had the figure', async () => {
    expect(readDb(dbPath, 'PRAGMA user_version')).toEqual([{ user_version: MIGRATIONS.length }])
    const a = await hourly('a')
    expect(a).toHaveLength(2)
    expect(a[0]).toMatchObject({
      timestamp: H0,
      cpu_usage: 17.5, cpu_usage_max: 40, // (10×2 + 40 + 10) / 4, not the mean of means 20
      mem_usage: 52.5, mem_usage_max: 60,
      temperature: 50, temperature_max: 70, // (40×2 + 70) / 3: the sample without one does not count
      net_rx_bytes_ps: 175, net_rx_bytes_ps_max: 400,
      load_1: null, load_1_max: null, // a figure v1 never kept
    })
    expect(a[1]).toMatchObject({ timestamp: H1, cpu_usage: 20, temperature: 50, net_rx_bytes_ps: null, net_rx_bytes_ps_max: null })
    const b = await hourly('b')
    expect(b.map((point: any) => [point.timestamp, point.cpu_usage, point.cpu_usage_max, point.temperature, point.temperature_max])).toEqual([
      [H0, 5, 5, null, null],
      [H1, 70, 70, null, null],
    ])
  })

  test('stored as the writer stores points: sample counts summed, a count NULL where every sample had the figure', () => {
    expect(readDb(dbPath, 'SELECT node_id, bucket_s, samples, cpu_sum, cpu_n, temp_sum, temp_n, net_rx_sum, net_rx_n FROM node_metrics_history_hourly ORDER BY node_id, bucket_s'))
      .toEqual([
        { node_id: 1, bucket_s: H0 / 1000, samples: 4, cpu_sum: 7000, cpu_n: null, temp_sum: 1500, temp_n: 3, net_rx_sum: 700, net_rx_n: null },
        { node_id: 1, bucket_s: H1 / 1000, samples: 3, cpu_sum: 6000, cpu_n: null, temp_sum: 1500, temp_n: null, net_rx_sum: null, net_rx_n: 0 },
        { node_id: 2, bucket_s: H0 / 1000, samples: 1, cpu_sum: 500, cpu_n: null, temp_sum: null, temp_n: 0, net_rx_sum: 1000, net_rx_n: null },
        { node_id: 2, bucket_s: H1 / 1000, samples: 2, cpu_sum: 14000, cpu_n: null, temp_sum: null, temp_n: 0, net_rx_sum: 6000, net_rx_n: null },
      ])
  })
})

test('hours that already have an hourly row are left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-backfill-v3-'))
  const db = new Database(join(dir, 'metrics.db'), { create: true })
  try {
    // Schema v3: both tiers exist. The raw tier has H0 and H1; the hourly tier only H1, with values
    // of its own (the writer counted every snapshot of H1 into it, possibly more than the raw tier still holds).
    for (const migration of MIGRATIONS.slice(0, 3)) db.exec(migration as string)
    db.exec('PRAGMA user_version = 3')
    const insert = (table: string, at: number, samples: number, cpuSum: number) =>
      db.query(`INSERT INTO ${table} (node_id, timestamp, samples, cpu_sum, cpu_n, cpu_max) VALUES (1, ?, ?, ?, NULL, ?)`).run(at / 1000, samples, cpuSum, cpuSum / samples)
    insert('node_metrics_history', H0, 2, 4000)
    insert('node_metrics_history', H1, 1, 1000)
    insert('node_metrics_history_hourly', H1, 12, 99_000)
    migrate(db)
    expect(db.query('SELECT bucket_s, samples, cpu_sum, cpu_max FROM node_metrics_history_hourly ORDER BY bucket_s').all()).toEqual([
      { bucket_s: H0 / 1000, samples: 2, cpu_sum: 4000, cpu_max: 2000 },
      { bucket_s: H1 / 1000, samples: 12, cpu_sum: 99_000, cpu_max: 8250 },
    ])
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
