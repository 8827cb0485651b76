import type { SQL } from 'bun'
import { deriveFigures } from '../../figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../../figures/network'
import { FIGURES, LATEST_COLUMNS, LATEST_EXTRAS } from '../../model/figures'
import type { NodeMetricsSnapshot } from '../../model'
import type { CleanupResult } from '../metrics-writer'
import { concatBytes, type NodeRow } from '../node-rows'
import type { WriteStore, WriteStoreSettings } from '../store'
import { historyTiers, type Tier } from '../tiers'
import { cleanup } from './cleanup'
import { recordSharedSettings } from './shared-settings'
import { Partitions } from './partitions'
import { latestColumnType, migrate } from './schema'
import { INSERT_IDENTITIES, LATEST_PARAMS, LOCK_IDENTITIES, STORED_TIMES, UPSERT_LATEST, upsertHistory } from './statements'
import { SUM_IN_ORDER, sumText } from './sums'
import { bucketsOf, nodeKey, planWrite, type BucketShare, type StoredNode, type WritePlan } from './write-plan'

/**
 * SQLSTATEs a write is tried again for, whole: a deadlock PostgreSQL broke, and a bucket whose
 * partition another master dropped meanwhile. (A sum past 2^63 is tried again sample by sample, sums.ts.)
 */
const DEADLOCK = '40P01'
const NO_PARTITION = '23514'
const ATTEMPTS = 3
/** "current transaction is aborted": what a pipelined statement gets after another failed */
const ABORTED = '25P02'

const errnoOf = (error: unknown) => (error as { errno?: unknown }).errno

/**
 * The writer's store on PostgreSQL: what MetricsWriter does on SQLite, safe with several masters
 * writing one database. No cache of what is stored survives a transaction — another master may
 * have written since — so each batch locks its nodes' identities and reads their stored snapshot
 * times first, and decides in that transaction which rows count (postgres/write-plan.ts).
 */
export class PostgresWriteStore implements WriteStore {
  readonly dialect = 'postgres' as const
  private readonly tiers: Tier[]
  private readonly partitions: Partitions
  private readonly upsertHistory: Map<Tier, string>
  /** Called inside a write's transaction before it commits, its locks held (the tests of two masters order commits with it). */
  beforeCommit?: () => Promise<void> | void

  constructor(
    private readonly sql: SQL,
    private readonly settings: WriteStoreSettings,
  ) {
    this.tiers = historyTiers(settings)
    this.partitions = new Partitions(sql, this.tiers)
    this.upsertHistory = new Map(this.tiers.map((tier) => [tier, upsertHistory(tier)]))
  }

  /** Migrates the schema and makes the history partitions of now and the next span (postgres/index.ts opens through it). */
  async open(now = Date.now()): Promise<void> {
    const migrated = await migrate(this.sql)
    for (const difference of await recordSharedSettings(this.sql, this.settings)) console.warn(`WARNING: ${difference}`)
    await this.partitions.refresh()
    await this.partitions.ahead(now)
    if (migrated.latestFiguresAdded) await this.refreshLatestFigures()
  }

  /**
   * Writes the rows in one transaction (MetricsWriter.write's rules, store.ts WriteStore.write).
   * Rows whose buckets have no partition get one first, in a transaction of its own.
   */
  async write(rows: readonly NodeRow[], now = Date.now()): Promise<boolean[]> {
    if (rows.length === 0) return []
    const buckets = bucketsOf(rows, this.tiers, now)
    await this.partitions.ensure(buckets)
    let sampleBySample = false
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(rows, now, sampleBySample)
      } catch (error) {
        const errno = errnoOf(error)
        if (errno === SUM_IN_ORDER && !sampleBySample) {
          sampleBySample = true
          continue
        }
        if (attempt >= ATTEMPTS || (errno !== DEADLOCK && errno !== NO_PARTITION)) throw error
        if (errno === NO_PARTITION) {
          await this.partitions.refresh()
          await this.partitions.ensure(buckets)
        }
      }
    }
  }

  cleanup(now = Date.now()): Promise<CleanupResult> {
    return cleanup(this.sql, this.partitions, this.tiers, this.settings, now)
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 5 })
  }

  private writeOnce(rows: readonly NodeRow[], now: number, sampleBySample: boolean): Promise<boolean[]> {
    return this.sql.begin(async (tx) => {
      const stored = await this.lockNodes(tx, rows)
      const plan = planWrite(rows, stored, this.tiers, now, sampleBySample)
      // The upserts go out together (pipelined on the transaction's connection); a tier's rounds in order.
      const statements: Promise<unknown>[] = []
      if (plan.latest.length > 0) statements.push(tx.unsafe(UPSERT_LATEST, latestParams(plan.latest)))
      for (const [tier, rounds] of plan.history) {
        statements.push(
          (async () => {
            for (const shares of rounds) await tx.unsafe(this.upsertHistory.get(tier)!, historyParams(shares))
          })(),
        )
      }
      const errors = (await Promise.allSettled(statements)).flatMap((result) => (result.status === 'rejected' ? [result.reason] : []))
      // The statement that failed, not those the failure aborted behind it.
      if (errors.length > 0) throw errors.find((error) => errnoOf(error) !== ABORTED) ?? errors[0]
      await this.beforeCommit?.()
      return plan.written
    })
  }

  /**
   * The batch's nodes, each with an identity (made for nodes first seen), locked, and with the
   * time of its stored snapshot. An identity another master's cleanup forgot between the insert and
   * the lock is made again.
   */
  private async lockNodes(tx: SQL, rows: readonly NodeRow[]): Promise<Map<string, StoredNode>> {
    const stored = new Map<string, StoredNode>()
    let pending = new Map<string, { cluster: string; node: string }>()
    for (const row of rows) pending.set(nodeKey(row.cluster, row.node), { cluster: row.cluster, node: row.node })
    for (let round = 0; pending.size > 0; round++) {
      if (round === ATTEMPTS) throw new Error(`identities of ${pending.size} nodes were removed while this write was making them`)
      const keys = [[...pending.values()].map((key) => key.cluster), [...pending.values()].map((key) => key.node)]
      const [, locked, times] = await Promise.all([tx.unsafe(INSERT_IDENTITIES, keys), tx.unsafe(LOCK_IDENTITIES, keys), tx.unsafe(STORED_TIMES, keys)])
      const snapshotMs = new Map<string, number>()
      for (const row of times as { cluster_id: string; node_name: string; snapshot_ms: number }[]) snapshotMs.set(nodeKey(row.cluster_id, row.node_name), row.snapshot_ms)
      for (const row of locked as { id: number; cluster_id: string; node_name: string }[]) {
        const key = nodeKey(row.cluster_id, row.node_name)
        stored.set(key, { id: row.id, snapshotMs: snapshotMs.get(key) ?? null })
        pending.delete(key)
      }
    }
    return stored
  }

  /**
   * Derives every latest row's figures again from its stored snapshot (MetricsWriter's
   * refreshLatestFigures): an upgrade that adds figure columns fills them for nodes that may never
   * report again. A row whose snapshot cannot be read keeps what it has.
   */
  async refreshLatestFigures(): Promise<number> {
    const settings = { netExclude: new RegExp(this.settings.netExclude ?? DEFAULT_NET_EXCLUDE) }
    const decoder = new TextDecoder()
    return this.sql.begin(async (tx) => {
      const rows: { id: number; snapshot: Uint8Array }[] = await tx`SELECT id, snapshot FROM node_metrics_latest FOR UPDATE`
      const ids: number[] = []
      const columns: unknown[][] = LATEST_COLUMNS.map(() => [])
      for (const row of rows) {
        try {
          const { values, extras } = deriveFigures(JSON.parse(decoder.decode(row.snapshot)) as NodeMetricsSnapshot, settings)
          const figures = [...values, ...LATEST_EXTRAS.map((extra) => extras[extra.key])]
          ids.push(row.id)
          figures.forEach((value, index) => columns[index]!.push(value))
        } catch {}
      }
      if (ids.length === 0) return 0
      await tx.unsafe(
        `UPDATE node_metrics_latest l SET ${LATEST_COLUMNS.map((column) => `${column} = u.${column}`).join(', ')}
           FROM unnest($1::int[], ${LATEST_COLUMNS.map((column, index) => `$${index + 2}::${latestColumnType(column)}[]`).join(', ')})
                AS u(id, ${LATEST_COLUMNS.join(', ')})
          WHERE l.id = u.id`,
        [ids, ...columns],
      )
      return ids.length
    })
  }
}

/** The latest upsert's parameters: a column array each (LATEST_PARAMS), then the snapshots' offsets (1-based), lengths and bytes. */
function latestParams(latest: WritePlan['latest']): unknown[] {
  const columns: unknown[][] = LATEST_PARAMS.map(() => [])
  const offsets: number[] = []
  const lengths: number[] = []
  let offset = 1
  for (const { id, row, receivedMs } of latest) {
    const values = [id, row.cluster, row.node, row.snapshotMs, receivedMs, ...row.values, ...LATEST_EXTRAS.map((extra) => row[extra.key])]
    values.forEach((value, index) => columns[index]!.push(value ?? null))
    offsets.push(offset)
    lengths.push(row.json.byteLength)
    offset += row.json.byteLength
  }
  return [...columns, offsets, lengths, concatBytes(latest.map(({ row }) => row.json))]
}

/** A history upsert's parameters: a column array each (statements.ts HISTORY_PARAMS). */
function historyParams(shares: readonly BucketShare[]): unknown[] {
  const nodeIds: number[] = []
  const buckets: number[] = []
  const samples: number[] = []
  const figures = FIGURES.map(() => ({ sums: [] as (string | null)[], counts: [] as (number | null)[], peaks: [] as (number | null)[] }))
  for (const share of shares) {
    nodeIds.push(share.nodeId)
    buckets.push(share.bucketS)
    samples.push(share.samples)
    figures.forEach((figure, f) => {
      figure.sums.push(sumText(share.sums[f]!))
      // NULL: every sample had the figure (history-encoding.ts).
      figure.counts.push(share.present[f] === share.samples ? null : share.present[f]!)
      figure.peaks.push(share.peaks[f]!)
    })
  }
  return [nodeIds, buckets, samples, ...figures.flatMap((figure) => [figure.sums, figure.counts, figure.peaks])]
}
