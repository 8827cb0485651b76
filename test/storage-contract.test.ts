import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FleetPoint, HistoryPoint, Metric } from '../src/model'
import { FIGURES, FIGURE_FIELDS, type FigureKey } from '../src/model/figures'
import { openReadConnection, openWriteConnection } from '../src/storage/connection'
import { MetricsReader } from '../src/storage/metrics-reader'
import { MetricsWriter } from '../src/storage/metrics-writer'
import type { NodeRow } from '../src/storage/node-rows'
import { openPostgresReadStore, openPostgresWriteStore, type PostgresWriteStore } from '../src/storage/postgres'
import { migrate } from '../src/storage/postgres/schema'
import { recordSharedSettings } from '../src/storage/postgres/shared-settings'
import type { ReadStore, WriteStore, WriteStoreSettings } from '../src/storage/store'
import { historyTiers, type Tier } from '../src/storage/tiers'
import { engineOrSkip, startPostgres, type Engine } from './support/engines'
import { rowOf } from './support/rows'
import { nodeSnapshot, type NodeShape } from './support/snapshots'
import { waitFor } from './support/wait'

// initdb, a server start and a database per test take seconds.
setDefaultTimeout(60_000)

/**
 * One suite of storage tests, run against both dialects (storage/store.ts): SQLite (MetricsWriter
 * and MetricsReader on a temp file) and PostgreSQL (storage/postgres/ on a server of the test's
 * own, a fresh database per test). Both must give the same answers to the same writes; the
 * strongest check writes one workload to both and compares every read. Then what only PostgreSQL
 * has: two masters on one database, partitions, a server that goes away and comes back.
 */

const SECOND = 1_000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Monday 2026-01-05 00:00 UTC: the start of a raw span (a day) */
const T0 = Date.UTC(2026, 0, 5)
const SETTINGS: WriteStoreSettings = { sampleIntervalMs: 10 * SECOND, retentionMs: 30 * DAY, retentionHourlyMs: 90 * DAY }
const [RAW, HOURLY] = historyTiers(SETTINGS) as [Tier, Tier]
const tiersOf = (settings: WriteStoreSettings) => historyTiers(settings) as [Tier, Tier]

interface Opened {
  writer: WriteStore
  reader: ReadStore
  /** the state a running master keeps reaching: SQLite compacts closed spans into chunks (a no-op on PostgreSQL) */
  settle(now: number): void
}

interface Dialect {
  name: 'sqlite' | 'postgres'
  open(settings: WriteStoreSettings, now: number): Promise<Opened>
}

const hasPostgres = engineOrSkip('postgres')
let engine: Engine | undefined
let admin: SQL | undefined
let databases = 0
const opened: Opened[] = []
const dirs: string[] = []

beforeAll(async () => {
  if (!hasPostgres) return
  engine = await startPostgres()
  admin = new SQL(engine.url, { max: 1 })
})
afterEach(async () => {
  for (const { writer, reader } of opened.splice(0)) {
    await reader.close()
    await writer.close()
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
afterAll(async () => {
  await admin?.close()
  await engine?.stop()
})

/** A database of its own on the test server. */
async function freshDatabase(): Promise<string> {
  const name = `contract_${++databases}`
  await admin!.unsafe(`CREATE DATABASE ${name}`)
  return engine!.url.replace(/\/postgres$/, `/${name}`)
}

const sqlite: Dialect = {
  name: 'sqlite',
  async open(settings) {
    const dir = mkdtempSync(join(tmpdir(), 'nmm-contract-'))
    dirs.push(dir)
    const path = join(dir, 'metrics.db')
    const writer = new MetricsWriter(openWriteConnection(path), settings)
    const store: Opened = { writer, reader: new MetricsReader(openReadConnection(path)), settle: (now) => void writer.compactor.compactAll(now) }
    opened.push(store)
    return store
  },
}

const postgres: Dialect = {
  name: 'postgres',
  async open(settings, now) {
    const url = await freshDatabase()
    const store: Opened = { writer: await openPostgresWriteStore(url, settings, now), reader: await openPostgresReadStore(url), settle: () => {} }
    opened.push(store)
    return store
  },
}

const DIALECTS: [Dialect, boolean][] = [
  [sqlite, true],
  [postgres, hasPostgres],
]

const figure = (key: FigureKey) => FIGURES.findIndex((candidate) => candidate.key === key)

/** A writer row from a snapshot of the test builders. */
const row = (cluster: string, node: string, ms: number, shape: NodeShape = {}): NodeRow => rowOf(cluster, nodeSnapshot(node, ms, shape), ms)

/** A row whose figures are set as given (others as the snapshot has them): values no agent would send pass straight to storage. */
function rowWith(cluster: string, node: string, ms: number, values: Partial<Record<FigureKey, number | null>>): NodeRow {
  const base = row(cluster, node, ms)
  const figures = [...base.values]
  for (const [key, value] of Object.entries(values)) figures[figure(key as FigureKey)] = value
  return { ...base, values: figures }
}

/** A snapshot without a temperature (no sensor): the figure is missing from the sample. */
function withoutTemp(cluster: string, node: string, ms: number, shape: NodeShape = {}): NodeRow {
  const snapshot: any = nodeSnapshot(node, ms, shape)
  delete snapshot.temperature
  return rowOf(cluster, snapshot, ms)
}

async function historyOf(store: Opened, cluster: string, node: string, tier: Tier, fromMs: number, toMs: number, widthS = tier.intervalS): Promise<HistoryPoint[]> {
  const id = await store.reader.nodeId(cluster, node)
  if (id === undefined) return []
  return store.reader.history(id, tier, fromMs / 1000, toMs / 1000, widthS)
}

const text = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined)

for (const [dialect, available] of DIALECTS) {
  describe.if(available)(`storage contract: ${dialect.name}`, () => {
    test('latest: the newest snapshot wins; an older or repeated one changes nothing and says so (false)', async () => {
      const store = await dialect.open(SETTINGS, T0)
      const t = T0 + HOUR
      expect(await store.writer.write([row('c', 'n1', t + 1, { cpu: 10 }), row('c', 'n1', t + 3, { cpu: 30 }), row('c', 'n1', t + 2, { cpu: 99 })], t + 5)).toEqual([true, true, false])
      // An agent's retry and an older snapshot, in a later batch.
      expect(await store.writer.write([row('c', 'n1', t + 3, { cpu: 30 }), row('c', 'n1', t + 1, { cpu: 10 })], t + 6)).toEqual([false, false])
      expect(await store.writer.write([row('c', 'n1', t + 4, { cpu: 40 })], t + 7)).toEqual([true])
      const [figures] = await store.reader.listFigures('c')
      expect(figures).toMatchObject({ node_name: 'n1', snapshot_ms: t + 4, received_ms: t + 7, cpu: 40 })
      expect(JSON.parse(text((await store.reader.latest('c', 'n1'))?.snapshot)!).timestamp).toBe(t + 4)
      const [point] = await historyOf(store, 'c', 'n1', RAW, t, t + HOUR)
      // 10, 30 and 40 counted once each; 99 came after 30 and was older.
      expect(point).toMatchObject({ timestamp: t, cpu_usage: 26.67, cpu_usage_max: 40 })
      // An agent's epoch milliseconds with a fraction are kept as they came.
      expect(await store.writer.write([row('c', 'n1', t + 4.5, { cpu: 50 })], t + 8.25)).toEqual([true])
      expect((await store.reader.nodeTimes())[0]).toEqual({ cluster_id: 'c', node_name: 'n1', snapshot_ms: t + 4.5, received_ms: t + 8.25 })
    })

    test('history: a figure missing from some samples is averaged over the samples that had it (10, missing, 40 → 25)', async () => {
      const store = await dialect.open(SETTINGS, T0)
      const t = T0 + HOUR
      await store.writer.write([withoutTemp('c', 'n1', t + 1, { cpu: 20 }), row('c', 'n1', t + 2, { temp: 10, cpu: 20 })], t + 5)
      await store.writer.write([withoutTemp('c', 'n1', t + 3, { cpu: 20 }), row('c', 'n1', t + 4, { temp: 40, cpu: 20 })], t + 6)
      await store.writer.write([withoutTemp('c', 'n2', t + 1), withoutTemp('c', 'n2', t + 2)], t + 6)
      for (const tier of [RAW, HOURLY]) {
        const [point] = await historyOf(store, 'c', 'n1', tier, T0, T0 + DAY)
        expect(point).toMatchObject({ temperature: 25, temperature_max: 40, cpu_usage: 20, cpu_usage_max: 20 })
        // A figure no sample had is null, never 0.
        const [never] = await historyOf(store, 'c', 'n2', tier, T0, T0 + DAY)
        expect(never).toMatchObject({ temperature: null, temperature_max: null })
      }
    })

    test('tiers and roll-ups: raw buckets of SAMPLE_INTERVAL, hourly buckets, and groups wider than a bucket', async () => {
      const store = await dialect.open(SETTINGS, T0)
      // Six samples a minute apart from 00:57: three raw buckets in hour 0, three in hour 1.
      const rows = [0, 1, 2, 3, 4, 5].map((i) => row('c', 'n1', T0 + 57 * MINUTE + i * MINUTE, { cpu: 10 * (i + 1), mem: 50 }))
      expect(await store.writer.write(rows, T0 + 2 * HOUR)).toEqual(rows.map(() => true))
      const raw = await historyOf(store, 'c', 'n1', RAW, T0, T0 + DAY)
      expect(raw.map((point) => [point.timestamp, point.cpu_usage])).toEqual(rows.map((r, i) => [r.snapshotMs, 10 * (i + 1)]))
      const hourly = await historyOf(store, 'c', 'n1', HOURLY, T0, T0 + DAY)
      expect(hourly.map((point) => [point.timestamp, point.cpu_usage, point.cpu_usage_max, point.mem_usage])).toEqual([
        [T0, 20, 30, 50],
        [T0 + HOUR, 50, 60, 50],
      ])
      // Raw buckets in groups of 5 minutes: 00:55 (57, 58, 59), 01:00 (00, 01, 02).
      const rolled = await historyOf(store, 'c', 'n1', RAW, T0, T0 + DAY, 300)
      expect(rolled.map((point) => [point.timestamp, point.cpu_usage, point.cpu_usage_max])).toEqual([
        [T0 + 55 * MINUTE, 20, 30],
        [T0 + HOUR, 50, 60],
      ])
      // A range picks the buckets that start in it.
      expect((await historyOf(store, 'c', 'n1', RAW, T0 + 58 * MINUTE, T0 + 60 * MINUTE)).length).toBe(2)
      // The whole day as one group.
      const [day] = await historyOf(store, 'c', 'n1', HOURLY, T0, T0 + DAY, 86_400)
      expect(day).toMatchObject({ timestamp: T0, cpu_usage: 35, cpu_usage_max: 60 })
    })

    test('fleet history: one figure of every node of a cluster, by node name, nodes without points left out', async () => {
      const store = await dialect.open(SETTINGS, T0)
      await store.writer.write(
        [row('c', 'b', T0 + MINUTE, { cpu: 40 }), row('c', 'a', T0 + MINUTE, { cpu: 10 }), row('c', 'a', T0 + 2 * MINUTE, { cpu: 30 }), row('other', 'a', T0 + MINUTE, { cpu: 99 })],
        T0 + HOUR,
      )
      await store.writer.write([row('c', 'late', T0 + 5 * HOUR, { cpu: 70 })], T0 + 6 * HOUR)
      const fleet = await store.reader.fleetHistory('c', 'cpu_usage', RAW, T0 / 1000, (T0 + HOUR) / 1000, 600)
      expect([...fleet.keys()]).toEqual(['a', 'b'])
      expect(fleet.get('a')).toEqual([{ timestamp: T0, value: 20, max: 30 }])
      expect(fleet.get('b')).toEqual([{ timestamp: T0, value: 40, max: 40 }])
      const hourly = await store.reader.fleetHistory('c', 'mem_usage', HOURLY, T0 / 1000, (T0 + DAY) / 1000, 3600)
      expect([...hourly.keys()]).toEqual(['a', 'b', 'late'])
    })

    test('latest rows: node lists, figures, times, counts and identities of each cluster', async () => {
      const store = await dialect.open(SETTINGS, T0)
      await store.writer.write([row('c2', 'x', T0 + 1, { cpu: 5 }), row('c1', 'b', T0 + 2, { cpu: 20 }), row('c1', 'a', T0 + 3, { cpu: 10, mem: 60 })], T0 + 10)
      await store.writer.write([row('c1', 'b', T0 + 4, { cpu: 25, temp: 70 })], T0 + 20)
      const list = await store.reader.nodeList('c1')
      expect(list.figures.map((f) => [f.node_name, f.snapshot_ms, f.received_ms, f.cpu, f.mem, f.temp])).toEqual([
        ['a', T0 + 3, T0 + 10, 10, 60, 50],
        ['b', T0 + 4, T0 + 20, 25, 50, 70],
      ])
      expect(list.snapshots.map((s) => [s.node_name, JSON.parse(text(s.snapshot)!).timestamp])).toEqual([
        ['a', T0 + 3],
        ['b', T0 + 4],
      ])
      expect(await store.reader.listFigures('c1')).toEqual(list.figures)
      expect(list.figures[0]).toMatchObject({ cores: 2, mem_total: 8e9, mem_used: 4e9, disk_max: 30, disk_max_mount: '/', disk_total: 1e11, disk_used: 30e9 })
      expect((await store.reader.allFigures()).map((f) => [f.cluster_id, f.node_name])).toEqual([
        ['c1', 'a'],
        ['c1', 'b'],
        ['c2', 'x'],
      ])
      expect(await store.reader.nodeTimes()).toEqual([
        { cluster_id: 'c1', node_name: 'a', snapshot_ms: T0 + 3, received_ms: T0 + 10 },
        { cluster_id: 'c1', node_name: 'b', snapshot_ms: T0 + 4, received_ms: T0 + 20 },
        { cluster_id: 'c2', node_name: 'x', snapshot_ms: T0 + 1, received_ms: T0 + 10 },
      ])
      expect(await store.reader.newestReceived('c1')).toBe(T0 + 20)
      expect(await store.reader.newestReceived('none')).toBe(0)
      expect(await store.reader.nodeCount('c1')).toBe(2)
      expect(await store.reader.nodeCount('none')).toBe(0)
      expect(await store.reader.latest('c1', 'nobody')).toBeUndefined()
      expect(await store.reader.nodeId('c1', 'nobody')).toBeUndefined()
      expect(typeof (await store.reader.nodeId('c1', 'a'))).toBe('number')
      expect((await store.reader.latest('c1', 'a'))!.id).toBe((await store.reader.nodeId('c1', 'a'))!)
      await store.reader.ping()
      expect(await store.reader.sizeBytes()).toBeGreaterThan(0)
    })

    test('a snapshot is stored byte for byte as the agent sent it: spacing, escapes, huge integers, bytes that are not UTF-8', async () => {
      const store = await dialect.open(SETTINGS, T0)
      const json = Buffer.concat([
        Buffer.from('{ "node_name" : "n1",\n\t"timestamp": 1767571200001, "counter": 123456789012345678901234567890, "s": "é\\u0000\\"" }  '),
        Buffer.from([0xff, 0x00, 0xc3]),
      ])
      await store.writer.write([{ ...row('c', 'n1', T0 + 1), json }], T0 + 2)
      const stored = await store.reader.latest('c', 'n1')
      expect(stored!.snapshot).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(stored!.snapshot).equals(json)).toBe(true)
      const [listed] = (await store.reader.nodeList('c')).snapshots
      expect(Buffer.from(listed!.snapshot).equals(json)).toBe(true)
    })

    test('cleanup: history past each tier\'s retention goes span by span; a node gone for RETENTION keeps its hourly history; an identity with nothing left is forgotten', async () => {
      const settings = { sampleIntervalMs: 10 * SECOND, retentionMs: DAY, retentionHourlyMs: 3 * DAY }
      const [raw, hourly] = tiersOf(settings)
      const store = await dialect.open(settings, T0)
      // Both nodes on day 0 (two raw buckets, one hour); only `stays` on days 1 and 2.
      await store.writer.write([row('c', 'gone', T0 + HOUR, { cpu: 10 }), row('c', 'gone', T0 + HOUR + MINUTE, { cpu: 20 }), row('c', 'stays', T0 + HOUR)], T0 + HOUR + MINUTE)
      await store.writer.write([row('c', 'stays', T0 + DAY + HOUR)], T0 + DAY + HOUR)
      await store.writer.write([row('c', 'stays', T0 + 2 * DAY + HOUR)], T0 + 2 * DAY + HOUR)
      // 2.5 days: day 0 of the raw tier ended past RETENTION (1 day); `gone` was last heard of on day 0.
      let now = T0 + 2 * DAY + 12 * HOUR
      store.settle(now)
      const first = await store.writer.cleanup(now)
      // raw: day 0 (`gone` ×2, `stays`), `gone` had nothing more; hourly: the week is not over.
      expect(first).toEqual({ points: { raw: 3, hourly: 0 }, nodes: 1, removed: [{ cluster: 'c', node: 'gone' }] })
      expect((await store.reader.listFigures('c')).map((f) => f.node_name)).toEqual(['stays'])
      expect(await store.reader.latest('c', 'gone')).toBeUndefined()
      // Its identity and hourly history stay, readable as before.
      expect(await historyOf(store, 'c', 'gone', raw, T0, T0 + 3 * DAY)).toEqual([])
      expect(await historyOf(store, 'c', 'gone', hourly, T0, T0 + 3 * DAY)).toMatchObject([{ timestamp: T0 + HOUR, cpu_usage: 15, cpu_usage_max: 20 }])
      expect(await store.reader.nodeCount('c')).toBe(2)
      expect((await historyOf(store, 'c', 'stays', raw, T0, T0 + 3 * DAY)).map((p) => p.timestamp)).toEqual([T0 + DAY + HOUR, T0 + 2 * DAY + HOUR])
      // Weeks later everything has expired: `stays` is gone too, and nothing is left to name either node.
      now = T0 + 30 * DAY
      store.settle(now)
      const second = await store.writer.cleanup(now)
      expect(second).toEqual({ points: { raw: 2, hourly: 4 }, nodes: 1, removed: [{ cluster: 'c', node: 'stays' }] })
      expect(await store.reader.nodeId('c', 'gone')).toBeUndefined()
      expect(await store.reader.nodeId('c', 'stays')).toBeUndefined()
      expect(await store.reader.nodeCount('c')).toBe(0)
      // A node back after all that starts a new series.
      expect(await store.writer.write([row('c', 'gone', now)], now)).toEqual([true])
      expect(await historyOf(store, 'c', 'gone', hourly, T0, now + DAY)).toHaveLength(1)
    })

    test('values past 2^53, and a sum past 2^63, read back as SQLite gives them', async () => {
      const store = await dialect.open(SETTINGS, T0)
      const t = T0 + HOUR
      const rx = 4e18 // three of them overflow a 64-bit sum: SQLite goes on in doubles
      const tx = 2 ** 53 + 2
      await store.writer.write([rowWith('c', 'n1', t + 1, { net_rx: rx, net_tx: tx }), rowWith('c', 'n1', t + 2, { net_rx: rx, net_tx: 2 ** 60 })], t + 5)
      await store.writer.write([rowWith('c', 'n1', t + 3, { net_rx: rx + 2048, net_tx: 1 })], t + 5)
      // The same in one batch, for another node.
      await store.writer.write([1, 2, 3].map((i) => rowWith('c', 'n2', t + i, { net_rx: i === 3 ? rx + 2048 : rx, net_tx: i === 1 ? tx : i === 2 ? 2 ** 60 : 1 })), t + 5)
      for (const node of ['n1', 'n2']) {
        const [point] = await historyOf(store, 'c', node, RAW, t, t + HOUR)
        expect(point!.net_rx_bytes_ps).toBe((rx + rx + (rx + 2048)) / 3)
        expect(point!.net_rx_bytes_ps_max).toBe(rx + 2048)
        // 2^53 + 2 + 2^60 + 1 exactly (a 64-bit INTEGER), then divided as a double.
        expect(point!.net_tx_bytes_ps).toBe(Math.round(Number(BigInt(tx) + 2n ** 60n + 1n) / 3))
        expect(point!.net_tx_bytes_ps_max).toBe(2 ** 60)
        const [hour] = await historyOf(store, 'c', node, HOURLY, t, t + HOUR, 7200)
        expect(hour!.net_rx_bytes_ps).toBe(point!.net_rx_bytes_ps)
      }
      const [figures] = await store.reader.listFigures('c')
      expect(figures).toMatchObject({ net_rx: rx + 2048, net_tx: 1 })
    })

    test('a sum past 2^63 goes on in doubles, in the order SQLite added them, in one batch or several', async () => {
      const store = await dialect.open(SETTINGS, T0)
      const t = T0 + HOUR
      // 6e18 + 6e18 overflows; each 1024 after it is half a double's step there and rounds away, where their sum of 2048 would not.
      const values = [6e18, 6e18, 1024, 1024, 1024, 1024]
      const doubles = values.reduce((sum, value) => sum + value) / values.length
      await store.writer.write(values.map((value, i) => rowWith('c', 'one', t + i, { net_rx: value })), t + 10)
      await store.writer.write(values.slice(0, 2).map((value, i) => rowWith('c', 'several', t + i, { net_rx: value })), t + 10)
      await store.writer.write(values.slice(2, 4).map((value, i) => rowWith('c', 'several', t + 2 + i, { net_rx: value })), t + 10)
      await store.writer.write(values.slice(4).map((value, i) => rowWith('c', 'several', t + 4 + i, { net_rx: value })), t + 10)
      for (const node of ['one', 'several']) {
        for (const tier of [RAW, HOURLY]) {
          const [point] = await historyOf(store, 'c', node, tier, t, t + HOUR)
          expect(point!.net_rx_bytes_ps).toBe(doubles)
        }
      }
      expect(doubles).not.toBe(Number(12_000_000_000_000_004_096n) / 6)
    })
  })
}

/** A seeded stream of numbers in [0, 1). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
}

/**
 * A day of a small fleet, written in batches as agents and a lagging writer would: out of order,
 * retried, figures missing now and then, nodes coming and going, a value past 2^53 here and there.
 */
function workload(seed: number): { rows: NodeRow[]; now: number }[] {
  const next = random(seed)
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!
  const nodes = ['c1/a', 'c1/b', 'c1/c', 'c2/a', 'c2/x-1', 'c2/é']
  const batches: { rows: NodeRow[]; now: number }[] = []
  let time = T0 + 3 * HOUR
  let previous: NodeRow[] = []
  for (let b = 0; b < 60; b++) {
    time += Math.floor(next() * 20 * MINUTE)
    const rows: NodeRow[] = []
    for (let i = 0; i < 1 + Math.floor(next() * 12); i++) {
      const [cluster, node] = pick(nodes).split('/') as [string, string]
      const ms = time - Math.floor(next() * 10 * MINUTE)
      const shape = { cpu: Math.round(next() * 10_000) / 100, mem: Math.round(next() * 100), temp: 30 + Math.round(next() * 40), rx: Math.floor(next() * 1e9) }
      const made = next() < 0.2 ? withoutTemp(cluster, node, ms, shape) : row(cluster, node, ms, shape)
      if (next() < 0.05) made.values[figure('net_tx')] = 2 ** 53 + 2 * Math.floor(next() * 1e6)
      rows.push(made)
    }
    // An agent's retry of rows already written.
    if (previous.length > 0 && next() < 0.3) rows.push(pick(previous))
    batches.push({ rows, now: time + Math.floor(next() * 5 * SECOND) })
    previous = rows
  }
  return batches
}

/** Every read of a store. */
async function everything(store: Opened, tiers: readonly Tier[]) {
  const clusters = ['c1', 'c2', 'none']
  const reads: Record<string, unknown> = {}
  reads.allFigures = await store.reader.allFigures()
  reads.nodeTimes = await store.reader.nodeTimes()
  for (const cluster of clusters) {
    reads[`${cluster}.listFigures`] = await store.reader.listFigures(cluster)
    reads[`${cluster}.nodeList`] = await store.reader.nodeList(cluster)
    reads[`${cluster}.newestReceived`] = await store.reader.newestReceived(cluster)
    reads[`${cluster}.nodeCount`] = await store.reader.nodeCount(cluster)
    for (const node of ['a', 'b', 'c', 'x-1', 'é', 'nobody']) {
      const latest = await store.reader.latest(cluster, node)
      reads[`${cluster}/${node}.latest`] = latest && { id: latest.id, snapshot: text(latest.snapshot) }
      const id = await store.reader.nodeId(cluster, node)
      reads[`${cluster}/${node}.id`] = id
      if (id === undefined) continue
      for (const tier of tiers) {
        for (const widthS of [tier.intervalS, 60, 900, 3600, 86_400]) {
          reads[`${cluster}/${node}.${tier.name}.${widthS}`] = await store.reader.history(id, tier, T0 / 1000, (T0 + 2 * DAY) / 1000, widthS)
        }
      }
    }
    for (const tier of tiers) {
      for (const metric of FIGURE_FIELDS as readonly Metric[]) {
        const fleet: Map<string, FleetPoint[]> = await store.reader.fleetHistory(cluster, metric, tier, T0 / 1000, (T0 + 2 * DAY) / 1000, 1800)
        reads[`${cluster}.fleet.${tier.name}.${metric}`] = [...fleet]
      }
    }
  }
  return reads
}

describe.if(hasPostgres)('storage contract: both dialects give the same answers', () => {
  test('one workload written to both: every read is the same, and so is every row\'s "changed"', async () => {
    const settings = { sampleIntervalMs: 30 * SECOND, retentionMs: 30 * DAY, retentionHourlyMs: 90 * DAY }
    const tiers = tiersOf(settings)
    const stores = [await sqlite.open(settings, T0), await postgres.open(settings, T0)]
    for (const seed of [1, 2, 3]) {
      const written: boolean[][][] = [[], []]
      for (const batch of workload(seed)) {
        for (const [index, store] of stores.entries()) written[index]!.push(await store.writer.write(batch.rows, batch.now))
      }
      expect(written[1]).toEqual(written[0]!)
      expect(written[0]!.flat().filter((changed) => !changed).length).toBeGreaterThan(0)
      const [fromSqlite, fromPostgres] = [await everything(stores[0]!, tiers), await everything(stores[1]!, tiers)]
      expect(Object.keys(fromSqlite).length).toBeGreaterThan(100)
      expect(fromPostgres).toEqual(fromSqlite)
    }
    // And after compaction and a cleanup that removes nodes and expires spans.
    const now = T0 + 32 * DAY
    stores[0]!.settle(now)
    const results = [await stores[0]!.writer.cleanup(now), await stores[1]!.writer.cleanup(now)]
    expect(results[1]).toEqual(results[0]!)
    expect(await everything(stores[1]!, tiers)).toEqual(await everything(stores[0]!, tiers))
  })
})

describe.if(hasPostgres)('PostgreSQL only', () => {
  /** A second writer and reader on the database of `url`: another master. */
  async function master(url: string, settings = SETTINGS, now = T0) {
    const writer = await openPostgresWriteStore(url, settings, now)
    const reader = await openPostgresReadStore(url)
    opened.push({ writer, reader, settle: () => {} })
    return { writer, reader }
  }

  const rawRow = async (url: string, node: string) => {
    const sql = new SQL(url, { max: 1 })
    try {
      const [stored] = await sql`
        SELECT h.samples, h.cpu_sum::text AS cpu_sum, h.cpu_n, h.cpu_max FROM node_metrics_history h JOIN nodes n ON n.id = h.node_id WHERE n.node_name = ${node}`
      return stored as { samples: number; cpu_sum: string; cpu_n: number | null; cpu_max: number }
    } finally {
      await sql.close()
    }
  }

  test('two masters write the same node\'s bucket at once (several masters on one database): every snapshot one of them took counts once, sums and counts add, peaks take the greater', async () => {
    const url = await freshDatabase()
    const [one, two] = [await master(url), await master(url)]
    const t = T0 + HOUR
    // Interleaved snapshot times, each master its own, all in one raw bucket, at random moments: a
    // snapshot older than what the other master stored just before changes nothing.
    const next = random(7)
    const taken: { ms: number; cpu: number; by: number }[] = []
    const run = async (writer: WriteStore, by: number) => {
      for (let i = 0; i < 40; i++) {
        await Bun.sleep(next() * 4)
        const ms = t + 2 * i + by
        const cpu = (i * 7 + by * 13) % 100
        const [changed] = await writer.write([row('c', 'n1', ms, { cpu })], t + 9 * SECOND)
        if (changed) taken.push({ ms, cpu, by })
      }
    }
    await Promise.all([run(one.writer, 0), run(two.writer, 1)])
    expect(taken.some(({ by }) => by === 0) && taken.some(({ by }) => by === 1)).toBe(true)
    const stored = await rawRow(url, 'n1')
    expect(stored).toEqual({
      samples: taken.length,
      cpu_sum: String(taken.reduce((sum, { cpu }) => sum + cpu * 100, 0)),
      cpu_n: null,
      cpu_max: Math.max(...taken.map(({ cpu }) => cpu)) * 100,
    })
    const newest = taken.reduce((a, b) => (b.ms > a.ms ? b : a))
    expect((await one.reader.listFigures('c'))[0]).toMatchObject({ snapshot_ms: newest.ms, cpu: newest.cpu })
    // Both masters read the same.
    const id = (await one.reader.nodeId('c', 'n1'))!
    expect(await two.reader.history(id, HOURLY, T0 / 1000, (T0 + DAY) / 1000, 3600)).toEqual(await one.reader.history(id, HOURLY, T0 / 1000, (T0 + DAY) / 1000, 3600))
  })

  test('the latest row keeps the newer snapshot whichever master commits last (several masters on one database)', async () => {
    const url = await freshDatabase()
    const [one, two] = [await master(url), await master(url)]
    const watcher = new SQL(url, { max: 1 })
    const waiting = async () => (await watcher`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`)[0].n > 0
    const t = T0 + HOUR
    /** `first` writes and holds its transaction open, its nodes locked, until `second`'s write waits for it. */
    const race = async (first: { writer: WriteStore }, firstRow: NodeRow, second: { writer: WriteStore }, secondRow: NodeRow) => {
      let release!: () => void
      let reached!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      const atCommit = new Promise<void>((resolve) => (reached = resolve))
      const writer = first.writer as PostgresWriteStore
      writer.beforeCommit = () => {
        reached()
        return held
      }
      const a = writer.write([firstRow], t + 9 * SECOND)
      await atCommit
      const b = second.writer.write([secondRow], t + 9 * SECOND)
      await waitFor(waiting, 5_000)
      release()
      const result = [await a, await b]
      writer.beforeCommit = undefined
      return result
    }
    try {
      // The newer snapshot commits first: the older one, waiting for it, then finds it and changes nothing.
      expect(await race(one, row('c', 'n1', t + 20, { cpu: 20 }), two, row('c', 'n1', t + 10, { cpu: 10 }))).toEqual([[true], [false]])
      expect((await one.reader.listFigures('c'))[0]).toMatchObject({ snapshot_ms: t + 20, cpu: 20 })
      // The older snapshot commits first: the newer one replaces it, and both count into the bucket.
      expect(await race(one, row('c', 'n2', t + 10, { cpu: 10 }), two, row('c', 'n2', t + 20, { cpu: 20 }))).toEqual([[true], [true]])
      expect((await two.reader.listFigures('c'))[1]).toMatchObject({ node_name: 'n2', snapshot_ms: t + 20, cpu: 20 })
      expect(await rawRow(url, 'n2')).toEqual({ samples: 2, cpu_sum: '3000', cpu_n: null, cpu_max: 2000 })
    } finally {
      await watcher.close()
    }
  })

  test('an agent\'s retry of a stored snapshot through the other master does not count twice (several masters on one database)', async () => {
    const url = await freshDatabase()
    const [one, two] = [await master(url), await master(url)]
    const t = T0 + HOUR
    expect(await one.writer.write([row('c', 'n1', t + 1, { cpu: 30 })], t + 2)).toEqual([true])
    expect(await two.writer.write([row('c', 'n1', t + 1, { cpu: 30 })], t + 3)).toEqual([false])
    expect(await two.writer.write([row('c', 'n1', t + 2, { cpu: 50 })], t + 4)).toEqual([true])
    expect(await one.writer.write([row('c', 'n1', t + 2, { cpu: 50 }), row('c', 'n1', t + 1, { cpu: 30 })], t + 5)).toEqual([false, false])
    expect(await rawRow(url, 'n1')).toEqual({ samples: 2, cpu_sum: '8000', cpu_n: null, cpu_max: 5000 })
    expect((await one.reader.listFigures('c'))[0]).toMatchObject({ snapshot_ms: t + 2, received_ms: t + 4 })
  })

  /** The partitions of a tier, from the catalog: [from, to) in epoch seconds, ascending. */
  async function partitionsOf(url: string, table: string): Promise<[number, number][]> {
    const sql = new SQL(url, { max: 1 })
    try {
      const rows: { bound: string }[] = await sql`
        SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = ${table}::regclass`
      return rows
        .map(({ bound }) => /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(bound)!.slice(1).map(Number) as [number, number])
        .sort((a, b) => a[0] - b[0])
    } finally {
      await sql.close()
    }
  }

  test('partitions: made ahead at open (this span and the next), on demand for a bucket outside them, at once by two masters without failing, and dropped whole by retention', async () => {
    const settings = { sampleIntervalMs: 10 * SECOND, retentionMs: 2 * DAY, retentionHourlyMs: 14 * DAY }
    const url = await freshDatabase()
    const now = T0 + 5 * HOUR
    const one = await master(url, settings, now)
    const day = (n: number) => (T0 + n * DAY) / 1000
    const week = (s: number) => Math.floor(s / (7 * 86_400)) * 7 * 86_400
    expect(await partitionsOf(url, 'node_metrics_history')).toEqual([
      [day(0), day(1)],
      [day(1), day(2)],
    ])
    const hourlyWeek = week(now / 1000)
    expect(await partitionsOf(url, 'node_metrics_history_hourly')).toEqual([
      [hourlyWeek, hourlyWeek + 7 * 86_400],
      [hourlyWeek + 7 * 86_400, hourlyWeek + 14 * 86_400],
    ])
    // A late snapshot from yesterday and an early one from day 4: each gets its day.
    expect(await one.writer.write([row('c', 'n1', T0 - DAY + HOUR), row('c', 'n1', T0 + 4 * DAY + HOUR)], now)).toEqual([true, true])
    expect(await partitionsOf(url, 'node_metrics_history')).toEqual([
      [day(-1), day(0)],
      [day(0), day(1)],
      [day(1), day(2)],
      [day(4), day(5)],
    ])
    // Two masters that need the same new partition at once: one makes it, neither fails.
    const two = await master(url, settings, now)
    const both = await Promise.all([one.writer.write([row('c', 'n2', T0 + 6 * DAY)], now), two.writer.write([row('c', 'n3', T0 + 6 * DAY + 1)], now)])
    expect(both).toEqual([[true], [true]])
    expect((await partitionsOf(url, 'node_metrics_history')).filter(([from]) => from === day(6))).toHaveLength(1)
    // Retention (2 days) at day 3.5: days -1 and 0 ended before day 1.5 and are dropped whole; day 1 is kept whole.
    // (The nodes, last received at 05:00 on day 0, are gone too: their raw points go with them.)
    const result = await one.writer.cleanup(T0 + 3 * DAY + 12 * HOUR)
    expect(result).toMatchObject({ points: { raw: 4 }, nodes: 3 })
    const kept = await partitionsOf(url, 'node_metrics_history')
    // Day 1 kept; days 3 and 4 made ahead by the cleanup (4 was there); day 6 made on demand.
    expect(kept.map(([from]) => from)).toEqual([day(1), day(3), day(4), day(6)])
  })

  test('two masters starting together on an empty database (several masters on one database): one migrates, the other waits and finds it done', async () => {
    const url = await freshDatabase()
    const [one, two] = await Promise.all([master(url), master(url)])
    const sql = new SQL(url, { max: 1 })
    try {
      expect((await sql`SELECT version FROM schema_migrations ORDER BY version`).map((row: { version: number }) => row.version)).toEqual([1, 2])
    } finally {
      await sql.close()
    }
    expect(await one.writer.write([row('c', 'n1', T0 + 1)], T0 + 1)).toEqual([true])
    expect(await two.reader.nodeCount('c')).toBe(1)
  })

  test('a master whose SAMPLE_INTERVAL or RETENTION differs from the one started before it says so at start (several masters on one database)', async () => {
    const url = await freshDatabase()
    const sql = new SQL(url, { max: 1 })
    try {
      await migrate(sql)
      expect(await recordSharedSettings(sql, SETTINGS)).toEqual([])
      expect(await recordSharedSettings(sql, SETTINGS)).toEqual([])
      const differences = await recordSharedSettings(sql, { ...SETTINGS, sampleIntervalMs: SETTINGS.sampleIntervalMs * 2 })
      expect(differences).toHaveLength(1)
      expect(differences[0]).toMatch(/^SAMPLE_INTERVAL is \d+ ms here but \d+ ms at the master that started before/)
    } finally {
      await sql.close()
    }
  })

  test('a figure added to the registry gets its columns in an existing database, and latest rows get it from their stored snapshots', async () => {
    const url = await freshDatabase()
    const t = T0 + HOUR
    const { writer } = await master(url)
    await writer.write([row('c', 'n1', t + 1, { cpu: 10 })], t + 2)
    await writer.close()
    // A database from before `load1`: its columns taken away.
    const sql = new SQL(url, { max: 1 })
    try {
      await sql.unsafe('ALTER TABLE node_metrics_latest DROP COLUMN load1')
      for (const table of ['node_metrics_history', 'node_metrics_history_hourly']) await sql.unsafe(`ALTER TABLE ${table} DROP COLUMN load1_sum, DROP COLUMN load1_n, DROP COLUMN load1_max`)
    } finally {
      await sql.close()
    }
    const again = await master(url)
    // The latest row's figure derived again from its snapshot (cpu.load_1: 0.5); the history before it has none.
    expect((await again.reader.listFigures('c'))[0]).toMatchObject({ cpu: 10, load1: 0.5 })
    expect((await historyOf({ ...again, settle: () => {} }, 'c', 'n1', RAW, t, t + HOUR))[0]).toMatchObject({ cpu_usage: 10, load_1: null, load_1_max: null })
    await again.writer.write([row('c', 'n1', t + 2, { cpu: 30 })], t + 3)
    expect((await historyOf({ ...again, settle: () => {} }, 'c', 'n1', RAW, t, t + HOUR))[0]).toMatchObject({ cpu_usage: 20, load_1: 0.5, load_1_max: 0.5 })
  })

  test('a server that goes away and comes back (PostgreSQL stopped and started under live stores): writes and reads fail meanwhile, then work again by themselves', async () => {
    const url = await freshDatabase()
    const { writer, reader } = await master(url)
    const t = T0 + HOUR
    expect(await writer.write([row('c', 'n1', t + 1)], t + 1)).toEqual([true])
    await engine!.halt()
    try {
      await expect(writer.write([row('c', 'n1', t + 2)], t + 2)).rejects.toThrow()
      await expect(reader.listFigures('c')).rejects.toThrow()
    } finally {
      await engine!.resume()
    }
    // The pools connect again on their own; nothing of the failed write was stored.
    let written: boolean[] | undefined
    await waitFor(async () => {
      written = await writer.write([row('c', 'n1', t + 3)], t + 3).catch(() => undefined)
      return written !== undefined
    }, 10_000)
    expect(written).toEqual([true])
    expect((await reader.listFigures('c'))[0]).toMatchObject({ snapshot_ms: t + 3 })
    expect((await historyOf({ writer, reader, settle: () => {} }, 'c', 'n1', RAW, t, t + HOUR))[0]).toBeDefined()
    await reader.ping()
  })

  test('an unreachable server: opening rejects with a message that says so and names the server without its password', async () => {
    const port = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const closed = port.port
    port.stop(true)
    const url = `postgres://master:s3cret-pw@127.0.0.1:${closed}/metrics`
    const error = await openPostgresWriteStore(url, SETTINGS).catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain(`PostgreSQL at postgres://master:***@127.0.0.1:${closed}/metrics is unreachable`)
    expect((error as Error).message).not.toContain('s3cret-pw')
    const readError = await openPostgresReadStore(url).catch((e: Error) => e)
    expect((readError as Error).message).toContain('is unreachable')
    expect((readError as Error).message).not.toContain('s3cret-pw')
  })
})
