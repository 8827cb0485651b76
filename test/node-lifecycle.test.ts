import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openReadConnection, openWriteConnection } from '../src/storage/connection'
import { MetricsReader } from '../src/storage/metrics-reader'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { historyTiers } from '../src/storage/tiers'
import { getJson, removeDb, startTestMaster } from './support/master'
import { rowOf } from './support/rows'
import { nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * A node's life in storage: received_ms is the master's clock, retention judges by it, and a node
 * that leaves the latest table keeps its identity and hourly history until they expire.
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const SETTINGS = { sampleIntervalMs: MINUTE, retentionMs: DAY, retentionHourlyMs: 10 * DAY }
const [RAW, HOURLY] = historyTiers(SETTINGS)
const T0 = Date.UTC(2026, 0, 1) // an hour start

let dir: string
let db: Database
let writer: MetricsWriter
let reader: MetricsReader

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nmm-lifecycle-'))
  db = openWriteConnection(join(dir, 'metrics.db'))
  writer = new MetricsWriter(db, SETTINGS)
  reader = new MetricsReader(openReadConnection(join(dir, 'metrics.db')))
})
afterEach(() => {
  reader.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

const row = (node: string, ts: number, cpu = 10) => rowOf('c', nodeSnapshot(node, ts, { cpu }))
const times = (node: string) => reader.nodeTimes().find((row) => row.node_name === node)
const hourly = (id: number, fromMs: number, toMs: number) => reader.history(id, HOURLY!, fromMs / 1000, toMs / 1000, 3600)

describe('received_ms', () => {
  test('is the writer\'s now when a newer snapshot is stored, and does not move for a snapshot that is not newer', () => {
    expect(writer.write([row('n1', T0)], T0 + 5)).toEqual([true])
    expect(times('n1')).toEqual({ cluster_id: 'c', node_name: 'n1', snapshot_ms: T0, received_ms: T0 + 5 })
    // A retry and an older snapshot change nothing, received_ms included.
    expect(writer.write([row('n1', T0), row('n1', T0 - 1)], T0 + 100)).toEqual([false, false])
    expect(times('n1')).toMatchObject({ snapshot_ms: T0, received_ms: T0 + 5 })
    // Several snapshots in one transaction: the newest is stored, received now.
    expect(writer.write([row('n1', T0 + 20), row('n1', T0 + 10)], T0 + 200)).toEqual([true, false])
    expect(times('n1')).toMatchObject({ snapshot_ms: T0 + 20, received_ms: T0 + 200 })
    // Every reader of latest figures gives both times.
    expect(reader.listFigures('c')[0]).toMatchObject({ node_name: 'n1', snapshot_ms: T0 + 20, received_ms: T0 + 200 })
    expect(reader.allFigures()[0]).toMatchObject({ cluster_id: 'c', snapshot_ms: T0 + 20, received_ms: T0 + 200 })
  })

  test('retention goes by the master\'s clock: a node whose agent clock lags is kept, a silent one is removed', () => {
    // 'lag' reports every hour, its agent's clock two days behind; 'quiet' reports once.
    writer.write([row('quiet', T0)], T0)
    for (let hour = 0; hour <= 25; hour++) writer.write([row('lag', T0 - 2 * DAY + hour * HOUR)], T0 + hour * HOUR)
    const result = writer.cleanup(T0 + 25 * HOUR)
    expect(result.removed).toEqual([{ cluster: 'c', node: 'quiet' }])
    expect(result.nodes).toBe(1)
    expect(reader.nodeTimes().map((row) => row.node_name)).toEqual(['lag'])
  })
})

describe('a node not received from for RETENTION', () => {
  test('leaves the latest table and its raw points, keeps its identity and its readable hourly points', () => {
    writer.write([row('gone', T0 + 10 * MINUTE, 40), row('stay', T0 + 10 * MINUTE, 20)], T0 + 10 * MINUTE)
    writer.write([row('gone', T0 + 20 * MINUTE, 60)], T0 + 20 * MINUTE)
    const id = reader.nodeId('c', 'gone')!
    expect(id).toBeNumber()
    writer.write([row('stay', T0 + DAY + 30 * MINUTE, 30)], T0 + DAY + 30 * MINUTE)

    const result = writer.cleanup(T0 + DAY + HOUR)
    // gone's two raw points leave with it, stay's first one by age; no hourly point is old enough.
    expect(result).toEqual({ points: { raw: 3, hourly: 0 }, nodes: 1, removed: [{ cluster: 'c', node: 'gone' }] })
    expect(reader.latest('c', 'gone')).toBeUndefined()
    expect(reader.nodeTimes().map((row) => row.node_name)).toEqual(['stay'])
    expect(reader.nodeId('c', 'gone')).toBe(id)
    expect(reader.history(id, RAW!, T0 / 1000, (T0 + 2 * DAY) / 1000, 60)).toEqual([])
    expect(hourly(id, T0, T0 + 2 * DAY)).toMatchObject([{ timestamp: T0, cpu_usage: 50, cpu_usage_max: 60 }])
    // The fleet chart over a long range still shows it.
    const fleet = reader.fleetHistory('c', 'cpu_usage', HOURLY!, T0 / 1000, (T0 + 2 * DAY) / 1000, 3600)
    expect([...fleet.keys()]).toEqual(['gone', 'stay'])
    expect(fleet.get('gone')).toEqual([{ timestamp: T0, value: 50, max: 60 }])
    // A second cleanup removes nothing more: the node is gone once.
    expect(writer.cleanup(T0 + DAY + 2 * HOUR)).toMatchObject({ nodes: 0, removed: [] })

    // Back under the same name: the same identity, so its hourly series continues.
    expect(writer.write([row('gone', T0 + DAY + 3 * HOUR, 80)], T0 + DAY + 3 * HOUR)).toEqual([true])
    expect(reader.nodeId('c', 'gone')).toBe(id)
    expect(reader.latest('c', 'gone')?.id).toBe(id)
    expect(times('gone')).toMatchObject({ snapshot_ms: T0 + DAY + 3 * HOUR, received_ms: T0 + DAY + 3 * HOUR })
    expect(hourly(id, T0, T0 + 2 * DAY).map((point) => [point.timestamp, point.cpu_usage])).toEqual([[T0, 50], [T0 + DAY + 3 * HOUR, 80]])
  })

  test('is forgotten once its hourly points expire too', () => {
    writer.write([row('gone', T0 + 10 * MINUTE)], T0 + 10 * MINUTE)
    const id = reader.nodeId('c', 'gone')!
    expect(writer.cleanup(T0 + 2 * DAY).removed).toEqual([{ cluster: 'c', node: 'gone' }])
    expect(reader.nodeId('c', 'gone')).toBe(id) // its hourly point is still there
    // Past RETENTION_HOURLY the hourly point goes, and with it the identity: nothing names it any more.
    expect(writer.cleanup(T0 + 10 * DAY + 2 * HOUR)).toEqual({ points: { raw: 0, hourly: 1 }, nodes: 0, removed: [] })
    expect(reader.nodeId('c', 'gone')).toBeUndefined()
    expect(db.query('SELECT COUNT(*) AS n FROM nodes').get()).toEqual({ n: 0 })
    // A node of that name later is a new node: its series starts afresh.
    writer.write([row('gone', T0 + 11 * DAY)], T0 + 11 * DAY)
    expect(hourly(reader.nodeId('c', 'gone')!, T0, T0 + 12 * DAY)).toHaveLength(1)
  })

  test('a failed transaction leaves no identity behind', () => {
    writer.write([row('n1', T0)], T0)
    db.exec('CREATE TRIGGER fail BEFORE INSERT ON node_metrics_history_hourly WHEN NEW.node_id > 1 BEGIN SELECT RAISE(ABORT, \'disk says no\'); END')
    expect(() => writer.write([row('n2', T0)], T0)).toThrow(/disk says no/)
    expect(reader.nodeId('c', 'n2')).toBeUndefined()
    db.exec('DROP TRIGGER fail')
    writer.write([row('n2', T0)], T0)
    expect(reader.nodeId('c', 'n2')).toBeNumber()
    expect(reader.latest('c', 'n2')?.id).toBe(reader.nodeId('c', 'n2')!)
  })
})

test('over HTTP: a removed node\'s history routes answer its hourly points; a node never stored is 404', async () => {
  // The file as a master's writer left it after a cleanup that removed 'gone' (times are injected,
  // so the data is prepared here); then a master serves it.
  const dbPath = join(mkdtempSync(join(tmpdir(), 'nmm-lifecycle-http-')), 'metrics.db')
  const hour = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR
  const settings = { sampleIntervalMs: MINUTE, retentionMs: HOUR, retentionHourlyMs: 30 * DAY }
  const file = openWriteConnection(dbPath)
  const prepared = new MetricsWriter(file, settings)
  prepared.write([row('gone', hour + 5 * MINUTE, 40), row('gone', hour + 6 * MINUTE, 20)], hour + 6 * MINUTE)
  expect(prepared.cleanup(hour + 2 * HOUR).removed).toEqual([{ cluster: 'c', node: 'gone' }])
  file.close()

  const master = await startTestMaster({ SAMPLE_INTERVAL: '1m', RETENTION: '1h', RETENTION_HOURLY: '30d' }, dbPath)
  try {
    const range = `start=${hour}&end=${hour + 3 * HOUR}&step=1h`
    const history = await getJson(`${master.api}/api/v2/clusters/c/node-metrics/gone/history?${range}`)
    expect(history.status).toBe(200)
    expect(history.body).toMatchObject({ tier: 'hourly', points: 1, history: [{ timestamp: hour, cpu_usage: 30, cpu_usage_max: 40 }] })
    // AtlHyper's route reads the raw tier, which the removal emptied: an empty answer, not a 404.
    const atlhyper = await getJson(`${master.api}/api/v2/node-metrics/gone/history?cluster_id=c&hours=24`)
    expect(atlhyper.status).toBe(200)
    expect(atlhyper.body.data).toEqual([])
    const fleet = await getJson(`${master.api}/api/v2/clusters/c/history?metric=cpu_usage&${range}`)
    expect(fleet.body.nodes).toEqual({ gone: [{ timestamp: hour, value: 30, max: 40 }] })
    // Its latest metrics are gone.
    expect((await getJson(`${master.api}/api/v2/clusters/c/node-metrics/gone`)).status).toBe(404)
    expect((await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)).body.nodes).toEqual({})
    // No identity, no history: 404 on both routes, as before.
    for (const url of [`/api/v2/clusters/c/node-metrics/never/history?${range}`, '/api/v2/node-metrics/never/history?cluster_id=c']) {
      const missing = await getJson(`${master.api}${url}`)
      expect(missing.status).toBe(404)
      expect(missing.body.error).toBe('node_not_found')
    }
  } finally {
    await master.stop()
    removeDb(dbPath)
  }
})
