import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BatchUpsert, multiRowSql } from '../src/storage/batch-upsert'
import { openWriteConnection } from '../src/storage/connection'
import { FIGURES } from '../src/model/figures'
import { MetricsWriter, type WriteOptions } from '../src/storage/metrics-writer'
import type { NodeRow } from '../src/storage/node-rows'
import { rowOf } from './support/rows'
import { nodeSnapshot } from './support/snapshots'

/** History points and latest rows are written many rows per statement (storage/batch-upsert.ts); every test holds for any statement size. */

const SECOND = 1_000
const SETTINGS = { sampleIntervalMs: 10 * SECOND, retentionMs: 86_400 * SECOND, retentionHourlyMs: 86_400 * SECOND }
let dir: string
let opened: Database[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nmm-batches-'))
})
afterEach(() => {
  for (const db of opened) db.close()
  opened = []
  rmSync(dir, { recursive: true, force: true })
})

function open(name: string, options?: WriteOptions): { db: Database; writer: MetricsWriter } {
  const db = openWriteConnection(join(dir, `${name}.db`))
  opened.push(db)
  return { db, writer: new MetricsWriter(db, SETTINGS, options) }
}

/** A bucket start well inside retention, aligned on SAMPLE_INTERVAL. */
const bucketStart = () => Math.floor(Date.now() / 10_000) * 10_000 - 120_000

const row = (node: string, ts: number, shape: Parameters<typeof nodeSnapshot>[2] = {}): NodeRow => rowOf('c', nodeSnapshot(node, ts, shape))

/** A snapshot whose temperature is missing (a VM without sensors). */
function withoutTemp(node: string, ts: number, cpu: number): NodeRow {
  const snapshot: any = nodeSnapshot(node, ts, { cpu })
  delete snapshot.temperature
  return rowOf('c', snapshot)
}

const HISTORY_COLUMNS = ['samples', ...FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])].join(', ')

/** Every stored value, by node name, so databases whose ids were given in another order compare equal. */
function dump(db: Database) {
  const history = (table: string) =>
    db.query(`SELECT n.node_name, h.bucket_s, ${HISTORY_COLUMNS.split(', ').map((column) => `h.${column}`).join(', ')}
                FROM ${table} h JOIN nodes n ON n.id = h.node_id ORDER BY n.node_name, h.bucket_s`).all()
  return {
    latest: db.query('SELECT * FROM node_metrics_latest ORDER BY node_name').all().map((latest: any) => ({ ...latest, id: undefined })),
    raw: history('node_metrics_history'),
    hourly: history('node_metrics_history_hourly'),
  }
}

describe('multiRowSql', () => {
  test('repeats the VALUES tuple with each row’s parameters renumbered, and keeps the rest as it is', () => {
    const sql = 'INSERT INTO t (a, b, c) VALUES (?2, CASE WHEN ?1 IS NULL THEN 0 END, (?1)) ON CONFLICT (a) DO UPDATE SET b = b + excluded.b'
    expect(multiRowSql(sql, 3, 2)).toBe(
      'INSERT INTO t (a, b, c) VALUES (?2, CASE WHEN ?1 IS NULL THEN 0 END, (?1)),\n' +
        '       (?4, CASE WHEN ?3 IS NULL THEN 0 END, (?3)),\n' +
        '       (?6, CASE WHEN ?5 IS NULL THEN 0 END, (?5)) ON CONFLICT (a) DO UPDATE SET b = b + excluded.b',
    )
  })

  test('refuses parameters it could not renumber', () => {
    expect(() => multiRowSql('INSERT INTO t VALUES (?, ?)', 2, 2)).toThrow(/parameters/)
    expect(() => multiRowSql('INSERT INTO t VALUES (?1, ?3)', 2, 2)).toThrow(/parameters/)
    expect(() => multiRowSql('INSERT INTO t VALUES (?1) ON CONFLICT DO UPDATE SET a = ?1', 2, 1)).toThrow(/parameters/)
    expect(() => multiRowSql('DELETE FROM t WHERE a = ?1', 2, 1)).toThrow(/VALUES/)
    expect(() => multiRowSql('INSERT INTO t VALUES (?1, (?2)', 2, 2)).toThrow(/not closed/)
  })
})

describe('BatchUpsert', () => {
  test('covers any count with its sizes, in the order rows were added; a row conflicting with an earlier one of the same statement updates it', () => {
    const db = new Database(':memory:')
    opened.push(db)
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL, last INTEGER, seq TEXT)')
    const upsert = new BatchUpsert(
      db,
      "INSERT INTO t (k, n, last, seq) VALUES (?1, 1, ?2, ?2) ON CONFLICT (k) DO UPDATE SET n = n + 1, last = excluded.last, seq = seq || ',' || excluded.seq",
      2,
      [8, 3, 1],
    )
    // 23 rows = 2 × 8 + 2 × 3 + 1, every key 5 times except the last three; the values are the order added.
    for (let at = 0; at < 23; at++) upsert.add([at % 5, at])
    expect(upsert.pending).toBe(23)
    db.transaction(() => upsert.flush())()
    expect(upsert.pending).toBe(0)
    expect(db.query('SELECT k, n, last, seq FROM t ORDER BY k').all()).toEqual([
      { k: 0, n: 5, last: 20, seq: '0,5,10,15,20' },
      { k: 1, n: 5, last: 21, seq: '1,6,11,16,21' },
      { k: 2, n: 5, last: 22, seq: '2,7,12,17,22' },
      { k: 3, n: 4, last: 18, seq: '3,8,13,18' },
      { k: 4, n: 4, last: 19, seq: '4,9,14,19' },
    ])
  })

  test('the sizes must include 1', () => {
    const db = new Database(':memory:')
    opened.push(db)
    expect(() => new BatchUpsert(db, 'INSERT INTO t VALUES (?1)', 1, [4, 2])).toThrow(/include 1/)
  })
})

describe('the writer with multi-row statements', () => {
  // The default sizes, and small ones so that a statement holds a node several times whatever the default.
  test.each([[undefined], [[4, 1]]])('several snapshots of one node in one bucket, inside one statement, sum, count and peak like single ones (sizes %p)', (statementRows) => {
    const base = bucketStart()
    const { db, writer } = open('repeats', { statementRows })
    // Four nodes, eight snapshots each in one raw bucket, interleaved: 32 points of one bucket per node.
    const nodes = ['a', 'b', 'c', 'd']
    const rows = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((i) => nodes.map((node, n) => row(node, base + i * SECOND, { cpu: 10 * i + n })))
    expect(writer.write(rows)).toEqual(rows.map(() => true))
    expect(db.query('SELECT node_id, bucket_s, samples, cpu_sum, cpu_n, cpu_max FROM node_metrics_history ORDER BY node_id').all()).toEqual(
      nodes.map((_, n) => ({
        node_id: n + 1, bucket_s: base / 1000, samples: 8,
        cpu_sum: (360 + 8 * n) * 100, cpu_n: null, cpu_max: (80 + n) * 100, // % × 100
      })),
    )
    expect(db.query('SELECT samples, cpu_sum FROM node_metrics_history_hourly ORDER BY node_id').all()).toEqual(
      nodes.map((_, n) => ({ samples: 8, cpu_sum: (360 + 8 * n) * 100 })),
    )
    expect(db.query('SELECT node_name, snapshot_ms, cpu FROM node_metrics_latest ORDER BY node_name').all()).toEqual(
      nodes.map((node, n) => ({ node_name: node, snapshot_ms: base + 8 * SECOND, cpu: 80 + n })),
    )
  })

  test('a figure missing from some samples of a statement keeps its own count; one every sample had keeps NULL', () => {
    const base = bucketStart()
    const { db, writer } = open('missing')
    // Temperature: missing, 10, missing, 40, missing (°C); CPU in all five. The count starts NULL or 0 either way.
    writer.write([
      withoutTemp('t', base + 1, 20),
      row('t', base + 2, { temp: 10, cpu: 20 }),
      withoutTemp('t', base + 3, 20),
      row('t', base + 4, { temp: 40, cpu: 20 }),
      withoutTemp('t', base + 5, 20),
      row('u', base + 1, { temp: 30 }),
      withoutTemp('u', base + 2, 20),
      withoutTemp('v', base + 1, 20),
    ])
    expect(db.query('SELECT node_id, samples, temp_sum, temp_n, temp_max, cpu_sum, cpu_n FROM node_metrics_history ORDER BY node_id').all()).toEqual([
      { node_id: 1, samples: 5, temp_sum: 500, temp_n: 2, temp_max: 400, cpu_sum: 10_000, cpu_n: null },
      { node_id: 2, samples: 2, temp_sum: 300, temp_n: 1, temp_max: 300, cpu_sum: 3000, cpu_n: null },
      { node_id: 3, samples: 1, temp_sum: null, temp_n: 0, temp_max: null, cpu_sum: 2000, cpu_n: null },
    ])
  })

  test('new and known nodes in one batch whose size is no multiple of any statement size: each written as alone', () => {
    const base = bucketStart()
    const { db, writer } = open('mixed')
    writer.write(Array.from({ length: 40 }, (_, i) => row(`known${i}`, base, { cpu: i })))
    // 40 known nodes (one twice, one with an old snapshot), 37 new: 79 rows, 78 of them newer.
    const batch = [
      ...Array.from({ length: 40 }, (_, i) => row(`known${i}`, base + SECOND, { cpu: 50 + i / 2 })),
      ...Array.from({ length: 37 }, (_, i) => row(`new${i}`, base + SECOND, { cpu: i })),
      row('known0', base + 2 * SECOND, { cpu: 99 }),
      row('known1', base - SECOND, { cpu: 1 }),
    ]
    const written = writer.write(batch)
    expect(written.filter((stored) => !stored)).toHaveLength(1)
    expect(written.at(-1)).toBe(false)
    expect(db.query('SELECT COUNT(*) AS n, SUM(samples) AS samples FROM node_metrics_history').get()).toEqual({ n: 77, samples: 118 })
    expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_history_hourly').get()).toEqual({ n: 77 })
    expect(db.query("SELECT samples, cpu_sum, cpu_max FROM node_metrics_history h JOIN nodes n ON n.id = h.node_id WHERE node_name = 'known0'").get())
      .toEqual({ samples: 3, cpu_sum: 14_900, cpu_max: 9900 })
    expect(db.query("SELECT snapshot_ms, cpu FROM node_metrics_latest WHERE node_name IN ('known0', 'known1', 'new36') ORDER BY node_name").all()).toEqual([
      { snapshot_ms: base + 2 * SECOND, cpu: 99 },
      { snapshot_ms: base + SECOND, cpu: 50.5 },
      { snapshot_ms: base + SECOND, cpu: 36 },
    ])
    // The latest row and the history points name the same identity.
    expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_latest l JOIN nodes n ON n.id = l.id AND n.node_name = l.node_name').get()).toEqual({ n: 77 })
  })

  test('stores exactly what single-row statements store, for every batch size', () => {
    const base = bucketStart()
    // 60 nodes over several raw buckets (and one or two hours), some without temperature, some
    // late (not newer than what their node has), in batches of every size up to 150.
    const rows: NodeRow[] = []
    for (let i = 0; i < 1_200; i++) {
      const node = `n${(i * 7) % 60}`
      const ts = base - 3_600_000 + Math.floor(i / 60) * 4_000 + (i % 60) - (i % 13 === 0 ? 8_000 : 0)
      rows.push(i % 11 === 0 ? withoutTemp(node, ts, i % 100) : row(node, ts, { cpu: (i * 13) % 100, temp: 30 + (i % 50), rx: i * 1000 }))
    }
    const single = open('single', { statementRows: [1] })
    const multi = open('multi')
    for (let at = 0, size = 1; at < rows.length; at += size, size = (size % 150) + 1) {
      const batch = rows.slice(at, at + size)
      expect(multi.writer.write(batch, base)).toEqual(single.writer.write(batch, base))
    }
    const expected = dump(single.db)
    expect(expected.raw.length).toBeGreaterThan(60)
    expect(dump(multi.db)).toEqual(expected)
  })

  test('a failed transaction forgets the points it gathered: the retry writes each once', () => {
    const base = bucketStart()
    const { db, writer } = open('failed')
    writer.write([row('n1', base, { cpu: 10 })])
    const batch = [row('n1', base + SECOND, { cpu: 20 }), ...Array.from({ length: 70 }, (_, i) => row(`new${i}`, base, { cpu: i }))]
    // A row SQLite cannot bind fails the transaction after every point was gathered, before any was written.
    const broken = { ...row('n2', base, { cpu: 30 }), json: {} as Uint8Array }
    expect(() => writer.write([...batch, broken])).toThrow(/Binding/)
    expect(db.query('SELECT COUNT(*) AS n, SUM(samples) AS samples FROM node_metrics_history').get()).toEqual({ n: 1, samples: 1 })
    writer.write(batch)
    expect(db.query('SELECT COUNT(*) AS n, SUM(samples) AS samples FROM node_metrics_history').get()).toEqual({ n: 71, samples: 72 })
    expect(db.query('SELECT COUNT(*) AS n FROM node_metrics_latest').get()).toEqual({ n: 71 })
  })
})
