import { afterEach, beforeEach, expect, test } from 'bun:test'
import type { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openWriteConnection } from '../src/storage/connection'
import { MetricsWriter } from '../src/storage/metrics-writer'
import type { NodeRow } from '../src/storage/node-rows'
import { rowOf } from './support/rows'
import { nodeSnapshot } from './support/snapshots'

let dir: string
let db: Database
let writer: MetricsWriter
const SECOND = 1_000

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nmm-writer-'))
  db = openWriteConnection(join(dir, 'metrics.db'))
  writer = new MetricsWriter(db, { sampleIntervalMs: 10 * SECOND, retentionMs: 86_400 * SECOND, retentionHourlyMs: 86_400 * SECOND })
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

const row = (node: string, ts: number, cpu: number): NodeRow => rowOf('c', nodeSnapshot(node, ts, { cpu }))

test('migrations set the schema version and are idempotent', () => {
  expect(db.query('PRAGMA user_version').get()).toEqual({ user_version: 6 })
  expect(db.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
  new MetricsWriter(db, { sampleIntervalMs: SECOND, retentionMs: SECOND, retentionHourlyMs: SECOND })
  expect(db.query('PRAGMA user_version').get()).toEqual({ user_version: 6 })
})

test('a node seen several times in one transaction: latest is the newest, every snapshot counts into its bucket', () => {
  const base = Math.floor(Date.now() / 10_000) * 10_000 - 60_000
  writer.write([row('n1', base + 1, 10), row('n1', base + 3, 30), row('n1', base + 2, 99), row('n1', base + 5, 50)])
  expect(db.query('SELECT snapshot_ms, cpu FROM node_metrics_latest').all()).toEqual([{ snapshot_ms: base + 5, cpu: 50 }])
  // base+2 arrived after base+3: it is older than what the node already had, so it is dropped.
  // cpu_n NULL: every sample of the bucket had the figure (the common case costs no data byte).
  expect(db.query('SELECT bucket_s, samples, cpu_sum, cpu_n, cpu_max FROM node_metrics_history').all()).toEqual([
    { bucket_s: base / 1000, samples: 3, cpu_sum: 9000, cpu_n: null, cpu_max: 5000 }, // seconds; % × 100
  ])
})

test('each figure keeps its own count: a sample without it neither counts as 0 nor dilutes the mean', () => {
  const base = Math.floor(Date.now() / 10_000) * 10_000 - 60_000
  const withoutTemp = (ts: number) => {
    const snapshot: any = nodeSnapshot('n1', ts, { cpu: 20 })
    delete snapshot.temperature
    return rowOf('c', snapshot)
  }
  // Temperature: missing, 10, missing, 40 (°C × 10); CPU in all four.
  writer.write([withoutTemp(base + 1), rowOf('c', nodeSnapshot('n1', base + 2, { temp: 10, cpu: 20 })), withoutTemp(base + 3)])
  writer.write([rowOf('c', nodeSnapshot('n1', base + 4, { temp: 40, cpu: 20 }))])
  expect(db.query('SELECT samples, temp_sum, temp_n, temp_max, cpu_sum, cpu_n FROM node_metrics_history').all()).toEqual([
    { samples: 4, temp_sum: 500, temp_n: 2, temp_max: 400, cpu_sum: 8000, cpu_n: null },
  ])
})

test('a failed transaction leaves nothing behind and the retry is written in full', () => {
  const base = Date.now() - 60_000
  writer.write([row('n1', base, 10)])
  const pages = (db.query('PRAGMA page_count').get() as { page_count: number }).page_count
  db.exec(`PRAGMA max_page_count = ${pages}`)
  const batch = [row('n1', base + SECOND, 20), ...Array.from({ length: 60 }, (_, i) => row(`new${i}`, base, i))]
  expect(() => writer.write(batch)).toThrow(/full/)
  expect(db.query('SELECT node_name, cpu FROM node_metrics_latest').all()).toEqual([{ node_name: 'n1', cpu: 10 }])
  db.exec('PRAGMA max_page_count = 1073741823')
  writer.write(batch)
  expect(db.query("SELECT cpu FROM node_metrics_latest WHERE node_name = 'n1'").get()).toEqual({ cpu: 20 })
  expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_latest').get()).toEqual({ n: 61 })
})

test('history past the retention window is neither written nor kept', () => {
  const now = Date.now()
  const short = new MetricsWriter(db, { sampleIntervalMs: SECOND, retentionMs: 60 * SECOND, retentionHourlyMs: 7_200 * SECOND })
  // 'old' is already past RETENTION: its snapshot is the latest but makes no raw point.
  short.write([row('old', now - 70 * SECOND, 1), row('n', now - 50 * SECOND, 2), row('n', now - 5 * SECOND, 3)], now)
  expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_history').get()).toEqual({ n: 2 })
  // 20 s later: n's first point is 70 s old and goes. 'old' was received 20 s ago, whatever its
  // agent's clock says: it stays (test/node-lifecycle.test.ts covers removal).
  expect(short.cleanup(now + 20 * SECOND)).toEqual({ points: { raw: 1, hourly: 0 }, nodes: 0, removed: [] })
  expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_history').get()).toEqual({ n: 1 })
  expect(db.query('SELECT node_name FROM node_metrics_latest ORDER BY node_name').all()).toEqual([{ node_name: 'n' }, { node_name: 'old' }])
})
