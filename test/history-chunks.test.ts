import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIGURES } from '../src/model/figures'
import { openReadConnection, openWriteConnection } from '../src/storage/connection'
import { MetricsReader } from '../src/storage/metrics-reader'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { historyTiers, type Tier } from '../src/storage/tiers'
import type { Metric } from '../src/model'
import { DAY, HOUR, MINUTE, SETTINGS, T0, sample, samples } from './support/history-data'
import { rowLayoutFleet, rowLayoutHistory } from './support/row-layout'

// A child process is started and killed in one test.
setDefaultTimeout(30_000)

const NODES = ['n1', 'n-nosensor', 'n3']
const TIERS = historyTiers(SETTINGS)
const [RAW, HOURLY] = TIERS as [Tier, Tier]

/**
 * Two files written with the same snapshots: `chunked` is compacted as the writer does, `rows`
 * never is — the row layout every answer is compared with.
 */
let dir: string
let chunked: { db: Database; writer: MetricsWriter }
let rows: { db: Database; writer: MetricsWriter }

const open = (name: string) => {
  const db = openWriteConnection(join(dir, name))
  return { db, writer: new MetricsWriter(db, SETTINGS) }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nmm-chunks-'))
  chunked = open('chunked.db')
  rows = open('rows.db')
})
afterEach(() => {
  chunked.db.close()
  rows.db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Writes to both files, in batches as the writer's group commit would. */
function write(batch: ReturnType<typeof samples>, now: number) {
  for (let i = 0; i < batch.length; i += 500) {
    chunked.writer.write(batch.slice(i, i + 500), now)
    rows.writer.write(batch.slice(i, i + 500), now)
  }
}

const count = (db: Database, sql: string) => (db.query(sql).get() as { n: number }).n
const chunkCount = (tier: Tier) => count(chunked.db, `SELECT COUNT(*) AS n FROM ${tier.chunkTable}`)
const openRows = (tier: Tier) => count(chunked.db, `SELECT COUNT(*) AS n FROM ${tier.table}`)

/** Every query shape the API makes, on both files: the JSON must be the same bytes. */
function expectSameAnswers() {
  const reader = new MetricsReader(openReadConnection(join(dir, 'chunked.db')))
  try {
    const ids = chunked.db.query<{ id: number }, []>('SELECT id FROM nodes ORDER BY id').all().map((row) => row.id)
    const ranges: [Tier, number, number, number][] = []
    for (const widthS of [300, 900, 3_600, 86_400]) ranges.push([RAW, 0, 2 ** 40, widthS])
    ranges.push([RAW, (T0 + 10 * HOUR) / 1000, (T0 + DAY + 7 * HOUR + 5 * MINUTE) / 1000, 300])
    ranges.push([RAW, (T0 + 23 * HOUR) / 1000, (T0 + 2 * DAY + HOUR) / 1000, 1_800])
    for (const widthS of [3_600, 7_200, 86_400, 7 * 86_400]) ranges.push([HOURLY, 0, 2 ** 40, widthS])
    ranges.push([HOURLY, (T0 + 5 * HOUR) / 1000, (T0 + 9 * DAY) / 1000, 3_600])
    let compared = 0
    for (const id of ids) {
      for (const [tier, fromS, toS, widthS] of ranges) {
        const expected = JSON.stringify(rowLayoutHistory(rows.db, id, tier, fromS, toS, widthS))
        expect(JSON.stringify(reader.history(id, tier, fromS, toS, widthS))).toBe(expected)
        compared += expected.length
      }
    }
    for (const { field } of FIGURES) {
      for (const [tier, widthS] of [[RAW, 300], [RAW, 3_600], [HOURLY, 86_400]] as const) {
        const expected = JSON.stringify([...rowLayoutFleet(rows.db, 'c', field, tier, 0, 2 ** 40, widthS)])
        expect(JSON.stringify([...reader.fleetHistory('c', field as Metric, tier, 0, 2 ** 40, widthS)])).toBe(expected)
      }
    }
    return compared
  } finally {
    reader.close()
  }
}

describe('history chunks read back exactly what the rows held', () => {
  test('closed days become chunks; every answer (plain, roll-ups, partial ranges, fleet) is byte for byte the row layout', () => {
    write(samples(NODES, T0, T0 + 2 * DAY + 6 * HOUR), T0 + 3 * DAY)
    expect(expectSameAnswers()).toBeGreaterThan(100_000) // before compaction: rows on both sides
    const points = chunked.writer.compactor.compactAll(T0 + 2 * DAY + 6 * HOUR)
    // Two closed days of three nodes in the raw tier; the hourly tier's week is still open.
    expect(chunkCount(RAW)).toBe(2 * NODES.length)
    expect(points.raw).toBe(2 * NODES.length * 288)
    expect(openRows(RAW)).toBe(NODES.length * 72)
    expect(chunkCount(HOURLY)).toBe(0)
    expectSameAnswers()
    // A week later, the hourly week is closed too.
    write(samples(NODES, T0 + 2 * DAY + 6 * HOUR, T0 + 8 * DAY), T0 + 9 * DAY)
    chunked.writer.compactor.compactAll(T0 + 8 * DAY + 10 * MINUTE)
    expect(chunkCount(HOURLY)).toBe(NODES.length)
    expect(chunkCount(RAW)).toBe(8 * NODES.length)
    expectSameAnswers()
  })

  test('a figure missing from some samples, from a whole node, or appearing mid-day reads as in rows', () => {
    write(samples(NODES, T0, T0 + 3 * DAY), T0 + 3 * DAY)
    // A span is closed one bucket after its end.
    chunked.writer.compactor.compactAll(T0 + 3 * DAY + 5 * MINUTE)
    expect(openRows(RAW)).toBe(0)
    // The sensorless node's chunks have no temperature column at all; load appeared at noon of day 2.
    const temps = chunked.db.query("SELECT c.temp IS NULL AS none FROM node_metrics_history_chunks c JOIN nodes n ON n.id = c.node_id WHERE n.node_name = 'n-nosensor'").all()
    expect(temps).toEqual([{ none: 1 }, { none: 1 }, { none: 1 }])
    const loads = chunked.db.query("SELECT c.load1 IS NULL AS none FROM node_metrics_history_chunks c JOIN nodes n ON n.id = c.node_id WHERE n.node_name = 'n1' ORDER BY start_s").all()
    expect(loads).toEqual([{ none: 1 }, { none: 0 }, { none: 0 }])
    expectSameAnswers()
  })

  test('a restart mid-day: the open day stays rows, goes on filling, and is compacted whole once closed', () => {
    write(samples(NODES, T0, T0 + DAY + 9 * HOUR), T0 + 2 * DAY)
    chunked.writer.compactor.compactAll(T0 + DAY + 9 * HOUR)
    chunked.db.close()
    rows.db.close()
    chunked = open('chunked.db')
    rows = open('rows.db')
    expectSameAnswers()
    write(samples(NODES, T0 + DAY + 9 * HOUR, T0 + 2 * DAY + HOUR), T0 + 3 * DAY)
    chunked.writer.compactor.compactAll(T0 + 2 * DAY + HOUR)
    expect(chunkCount(RAW)).toBe(2 * NODES.length)
    expectSameAnswers()
  })

  test('a late snapshot for a day already compacted is merged in reads, then into its chunk', () => {
    // n-late's last sample is at 23:37:09 of the first day; that day is compacted; then its agent,
    // whose clock lags, sends 23:38:30 and 23:39 (into the chunk's last bucket, one without a
    // temperature), 23:47, 23:58 and 23:59: newer than its stored snapshot, in a closed span.
    write(samples(['n-late'], T0, T0 + DAY - 20 * MINUTE), T0 + DAY)
    chunked.writer.compactor.compactAll(T0 + DAY + 10 * MINUTE)
    expect(chunkCount(RAW)).toBe(1)
    const late = [21.5, 21, 13, 2, 1].map((minutes, index) => sample('n-late', T0 + DAY - minutes * MINUTE, [1, 4, 2, 3, 5][index]!))
    write(late, T0 + DAY + 11 * MINUTE)
    expect(openRows(RAW)).toBe(3)
    expectSameAnswers()
    chunked.writer.compactor.compactAll(T0 + DAY + 15 * MINUTE)
    expect(openRows(RAW)).toBe(0)
    expect(chunkCount(RAW)).toBe(1)
    expectSameAnswers()
  })

  test('retention drops whole chunks: a span is kept until its last bucket expires', () => {
    write(samples(NODES, T0, T0 + 3 * DAY), T0 + 3 * DAY)
    // A span is closed one bucket after its end.
    chunked.writer.compactor.compactAll(T0 + 3 * DAY + 5 * MINUTE)
    const retention = SETTINGS.retentionMs
    // The cutoff falls at noon of the first day: that day's chunk stays whole.
    const noon = T0 + 12 * HOUR + retention
    expect(chunked.writer.cleanup(noon).points.raw).toBe(0)
    expect(chunkCount(RAW)).toBe(3 * NODES.length)
    // Once the cutoff passes its end, the day goes as one: its points are counted.
    expect(chunked.writer.cleanup(T0 + DAY + retention).points.raw).toBe(NODES.length * 288)
    expect(chunkCount(RAW)).toBe(2 * NODES.length)
    rows.writer.cleanup(T0 + DAY + retention)
    expectSameAnswers()
  })

  test('a value the format cannot carry keeps its span as rows, still read exactly', () => {
    write(samples(['n1'], T0, T0 + 2 * DAY), T0 + 2 * DAY)
    for (const file of [chunked, rows]) file.db.exec(`UPDATE node_metrics_history SET cpu_sum = cpu_sum + 0.5 WHERE bucket_s = ${T0 / 1000 + 3_600}`)
    chunked.writer.compactor.compactAll(T0 + 2 * DAY + 5 * MINUTE)
    expect(chunkCount(RAW)).toBe(1)
    expect(openRows(RAW)).toBe(288)
    expectSameAnswers()
  })

  test('a compaction killed with SIGKILL inside its transaction leaves every point counted once', async () => {
    write(samples(NODES, T0, T0 + 2 * DAY + HOUR), T0 + 3 * DAY)
    chunked.db.close()
    const child = Bun.spawn(['bun', `${import.meta.dir}/support/compact-child.ts`, join(dir, 'chunked.db'), String(T0 + 3 * DAY)], { stdout: 'pipe', stderr: 'inherit' })
    const reader = child.stdout.getReader()
    let said = ''
    while (!said.includes('inside')) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the child ended before compacting: ${said}`)
      said += new TextDecoder().decode(value)
    }
    child.kill('SIGKILL')
    await child.exited
    chunked = open('chunked.db')
    expect(chunked.db.query('PRAGMA quick_check').get()).toEqual({ quick_check: 'ok' })
    expect(chunkCount(RAW)).toBe(0)
    expectSameAnswers()
    chunked.writer.compactor.compactAll(T0 + 3 * DAY)
    expect(chunkCount(RAW)).toBe(2 * NODES.length)
    expectSameAnswers()
  })
})

describe('history chunks across a change of SAMPLE_INTERVAL', () => {
  const FIVE_S = { ...SETTINGS, sampleIntervalMs: 5_000 }
  const reopen = (settings: typeof SETTINGS) => {
    chunked.db.close()
    rows.db.close()
    chunked = { db: openWriteConnection(join(dir, 'chunked.db')), writer: undefined as unknown as MetricsWriter }
    chunked.writer = new MetricsWriter(chunked.db, settings)
    rows = { db: openWriteConnection(join(dir, 'rows.db')), writer: undefined as unknown as MetricsWriter }
    rows.writer = new MetricsWriter(rows.db, settings)
  }
  /** Answers of the tier as `settings` make it, against the row layout, at widths from its interval up. */
  function expectSameAt(settings: typeof SETTINGS) {
    const tier = historyTiers(settings)[0]!
    const reader = new MetricsReader(openReadConnection(join(dir, 'chunked.db')))
    try {
      for (const [fromS, toS] of [[0, 2 ** 40], [(T0 + 14 * HOUR) / 1000, (T0 + DAY + 3 * HOUR) / 1000]] as const) {
        for (const widthS of [tier.intervalS, 300, 3_600]) {
          const answer = reader.history(1, tier, fromS, toS, widthS)
          expect(JSON.stringify(answer)).toBe(JSON.stringify(rowLayoutHistory(rows.db, 1, tier, fromS, toS, widthS)))
          // Ascending, whatever span each chunk was written with.
          expect(answer.every((point, index) => index === 0 || point.timestamp > answer[index - 1]!.timestamp)).toBe(true)
        }
      }
    } finally {
      reader.close()
    }
  }

  test('day chunks written at 5m read whole after a restart at 5s, whose chunks are half days', () => {
    write(samples(['n1'], T0, T0 + 2 * DAY), T0 + 2 * DAY)
    chunked.writer.compactor.compactAll(T0 + 2 * DAY + 10 * MINUTE)
    reopen(FIVE_S)
    // At 5 s a chunk spans 12 h: a range that starts late in an old day chunk still finds it.
    expectSameAt(FIVE_S)
    write([sample('n1', T0 + 2 * DAY + HOUR, 1)], T0 + 3 * DAY)
    chunked.writer.compactor.compactAll(T0 + 3 * DAY)
    expectSameAt(FIVE_S)
  })

  test('5s chunks, then 5m with a lagging agent clock: the chunks are merged, never overlap, points stay in order', () => {
    reopen(FIVE_S)
    write(samples(['n1'], T0, T0 + 20 * HOUR).filter((_, index) => index % 40 === 0), T0 + 2 * DAY)
    chunked.writer.compactor.compactAll(T0 + DAY + MINUTE)
    const halfDays = chunkCount(RAW)
    expect(halfDays).toBe(2)
    reopen(SETTINGS)
    // The agent's clock lags: its next snapshots fall in the second half-day chunk, now in a day span.
    write([20 * HOUR + 30_000, 21 * HOUR, 23 * HOUR].map((ms, index) => sample('n1', T0 + ms, index)), T0 + 2 * DAY)
    chunked.writer.compactor.compactAll(T0 + DAY + 10 * MINUTE)
    // One day chunk now holds both half days and the late rows.
    expect(chunked.db.query('SELECT start_s, end_s FROM node_metrics_history_chunks').all()).toEqual([{ start_s: T0 / 1000, end_s: T0 / 1000 + 86_400 }])
    expect(openRows(RAW)).toBe(0)
    expectSameAt(SETTINGS)
    expectSameAt(FIVE_S)
  })
})

test('roll-ups past 2^53: totals added exactly as SQLite TOTAL adds integers, and means past 2^52 not rounded again', () => {
  write(samples(['n1'], T0, T0 + DAY), T0 + DAY)
  // Odd sums just past 2^52: every running total past 2^53 is odd, which a double cannot hold, so
  // adding them as doubles drifts by units that the mean of a day's 288 buckets still shows.
  for (const file of [chunked, rows]) file.db.exec('UPDATE node_metrics_history SET net_rx_sum = 4503599627370497 + (bucket_s % 7) * 2, net_rx_n = 1')
  const reader = new MetricsReader(openReadConnection(join(dir, 'chunked.db')))
  try {
    for (const widthS of [900, 3_600, 86_400]) {
      expect(JSON.stringify(reader.history(1, RAW, 0, 2 ** 40, widthS))).toBe(JSON.stringify(rowLayoutHistory(rows.db, 1, RAW, 0, 2 ** 40, widthS)))
      expect(JSON.stringify([...reader.fleetHistory('c', 'net_rx_bytes_ps', RAW, 0, 2 ** 40, widthS)]))
        .toBe(JSON.stringify([...rowLayoutFleet(rows.db, 'c', 'net_rx_bytes_ps', RAW, 0, 2 ** 40, widthS)]))
    }
  } finally {
    reader.close()
  }
})

test('a compaction that commits in the middle of a read changes nothing in its answer: the read is one transaction', () => {
  write(samples(NODES, T0, T0 + 2 * DAY), T0 + 2 * DAY)
  const reader = new MetricsReader(openReadConnection(join(dir, 'chunked.db')))
  try {
    // The chunks are read (none yet), then the writer moves the first day into a chunk, then the rows
    // are read: outside one transaction the day would be in neither.
    reader.betweenReads = () => void chunked.writer.compactor.compactAll(T0 + DAY + 10 * MINUTE)
    for (const widthS of [300, 3_600]) {
      const answer = JSON.stringify(reader.history(1, RAW, 0, 2 ** 40, widthS))
      expect(answer).toBe(JSON.stringify(rowLayoutHistory(rows.db, 1, RAW, 0, 2 ** 40, widthS)))
    }
    expect(chunkCount(RAW)).toBe(NODES.length)
  } finally {
    reader.close()
  }
})
