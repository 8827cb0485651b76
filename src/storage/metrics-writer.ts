import type { Database } from 'bun:sqlite'
import { deriveFigures } from '../figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../figures/network'
import { FIGURES, LATEST_COLUMNS, LATEST_EXTRAS } from '../model/figures'
import type { NodeMetricsSnapshot } from '../model'
import { BatchUpsert } from './batch-upsert'
import { encodeValues, upsertPointSql } from './history-encoding'
import { migrate } from './migrations'
import type { NodeRow } from './node-rows'
import { Compactor } from './compaction'
import { historyTiers, type Tier, type TierSettings } from './tiers'

export type HistorySettings = TierSettings & {
  /** NET_EXCLUDE, for figures derived again from stored snapshots after an upgrade (default: the built-in pattern) */
  netExclude?: string
}

export interface CleanupResult {
  /** history points deleted, per tier (a removed node's raw points included) */
  points: Record<Tier['name'], number>
  /** nodes not received from for longer than RETENTION, removed from the latest table (their hourly history stays) */
  nodes: number
  /** those nodes, so the DataHub can forget them too */
  removed: { cluster: string; node: string }[]
}

/** How the writer builds its statements: bench/writer.ts measures single-row ones ([1]) against the default. */
export interface WriteOptions {
  /** history points per prepared statement, largest first, 1 among them (default: batch-upsert.ts STATEMENT_ROWS) */
  statementRows?: readonly number[]
}

interface KnownNode {
  /** the node's identity (`nodes.id`), which its history points reference */
  id: number
  /** its stored snapshot's time (epoch ms); null: the node has an identity but no latest row (removed, then back) */
  snapshotMs: number | null
}

/**
 * Every write the master makes, on the writer thread's single read-write connection.
 * It remembers each node's id and newest timestamp so a snapshot costs one upsert of its latest
 * row and one of its history bucket per tier, with no reads; the upserts of a transaction are
 * written many rows per statement (batch-upsert.ts).
 */
export class MetricsWriter {
  readonly dialect = 'sqlite' as const
  private readonly known = new Map<string, KnownNode>()
  private readonly findNode
  private readonly insertIdentity
  private readonly upsertLatest
  private readonly tiers: {
    tier: Tier
    upsert: BatchUpsert
    deleteExpired: ReturnType<Database['query']>
    deleteExpiredChunks: ReturnType<Database['query']>
  }[]
  private readonly findGoneNodes
  private readonly deleteNode
  private readonly deleteRawHistory
  private readonly deleteRawChunks
  private readonly deleteForgottenNodes
  /** compacts closed spans of history into chunks (storage/compaction.ts) */
  readonly compactor: Compactor

  constructor(
    private readonly db: Database,
    private readonly settings: HistorySettings,
    options: WriteOptions = {},
  ) {
    const migrated = migrate(db)
    // The identity outlives the latest row: a node back after removal continues its series.
    this.findNode = db.query<KnownNode, [string, string]>(
      `SELECT n.id, l.snapshot_ms AS snapshotMs FROM nodes n LEFT JOIN node_metrics_latest l ON l.id = n.id
        WHERE n.cluster_id = ?1 AND n.node_name = ?2`,
    )
    this.insertIdentity = db.query<{ id: number }, [string, string]>('INSERT INTO nodes (cluster_id, node_name) VALUES (?1, ?2) RETURNING id')
    // The latest row of a node first seen (or back after removal) is inserted, any other updated
    // through its id. One row per statement, unlike history points: the row's snapshot (KBs) is what
    // it costs, and multi-row statements measured no faster — slower on a file, where a statement
    // that may fail after changing rows first copies each page it changes to a statement journal.
    this.upsertLatest = db.query<never, LatestParams>(
      `INSERT INTO node_metrics_latest (id, cluster_id, node_name, snapshot_ms, received_ms, ${LATEST_COLUMNS.join(', ')}, snapshot)
       VALUES (?${LATEST_PARAMS + 1}, ${Array.from({ length: LATEST_PARAMS }, (_, index) => `?${index + 1}`).join(', ')})
       ON CONFLICT (id) DO UPDATE SET snapshot_ms = excluded.snapshot_ms, received_ms = excluded.received_ms,
         ${LATEST_COLUMNS.map((column) => `${column} = excluded.${column}`).join(', ')}, snapshot = excluded.snapshot`,
    )
    this.tiers = historyTiers(settings).map((tier) => ({
      tier,
      upsert: new BatchUpsert(db, upsertPointSql(tier.table), POINT_PARAMS, options.statementRows),
      // Per node through the primary key, so no index on bucket_s alone is needed; through
      // `nodes`, so removed nodes' hourly points expire too.
      deleteExpired: db.query(`DELETE FROM ${tier.table} WHERE node_id IN (SELECT id FROM nodes) AND bucket_s < ?1`),
      // Whole chunks, once their last bucket is past retention: a span is kept or dropped as one.
      deleteExpiredChunks: db.query<{ points: number }, [number]>(`DELETE FROM ${tier.chunkTable} WHERE node_id IN (SELECT id FROM nodes) AND end_s <= ?1 RETURNING points`),
    }))
    this.compactor = new Compactor(db, this.tiers.map(({ tier }) => tier))
    // The server's clock: a node whose agent clock lags is still being heard from.
    this.findGoneNodes = db.query<{ id: number; cluster_id: string; node_name: string }, [number]>(
      'SELECT id, cluster_id, node_name FROM node_metrics_latest WHERE received_ms < ?1',
    )
    this.deleteNode = db.query<never, [number]>('DELETE FROM node_metrics_latest WHERE id = ?1')
    this.deleteRawHistory = db.query<never, [number]>(`DELETE FROM ${this.tiers[0]!.tier.table} WHERE node_id = ?1`)
    this.deleteRawChunks = db.query<{ points: number }, [number]>(`DELETE FROM ${this.tiers[0]!.tier.chunkTable} WHERE node_id = ?1 RETURNING points`)
    // An identity with nothing left to name: no latest row, no history point in any tier.
    this.deleteForgottenNodes = db.query<never, []>(
      `DELETE FROM nodes
        WHERE id NOT IN (SELECT id FROM node_metrics_latest)
          ${this.tiers.map(({ tier }) => `AND NOT EXISTS (SELECT 1 FROM ${tier.table} WHERE node_id = nodes.id)
          AND NOT EXISTS (SELECT 1 FROM ${tier.chunkTable} WHERE node_id = nodes.id)`).join('\n          ')}`,
    )
    if (migrated.latestFiguresAdded) this.refreshLatestFigures()
  }

  /**
   * Derives every latest row's figures again from its stored snapshot, with the current rules: an
   * upgrade that adds figure columns fills them for nodes that may never report again. A row whose
   * snapshot cannot be read keeps what it has.
   */
  refreshLatestFigures(): number {
    const settings = { netExclude: new RegExp(this.settings.netExclude ?? DEFAULT_NET_EXCLUDE) }
    const update = this.db.query<never, (string | number | null)[]>(
      `UPDATE node_metrics_latest SET ${LATEST_COLUMNS.map((column, index) => `${column} = ?${index + 2}`).join(', ')} WHERE id = ?1`,
    )
    const decoder = new TextDecoder()
    let refreshed = 0
    this.db.transaction(() => {
      for (const row of this.db.query<{ id: number; snapshot: Uint8Array }, []>('SELECT id, snapshot FROM node_metrics_latest').iterate()) {
        let node: NodeMetricsSnapshot
        try {
          node = JSON.parse(decoder.decode(row.snapshot))
          const { values, extras } = deriveFigures(node, settings)
          update.run(row.id, ...values, ...LATEST_EXTRAS.map((extra) => extras[extra.key]))
          refreshed++
        } catch {}
      }
    })()
    return refreshed
  }

  /**
   * Writes all rows in one transaction. A node's latest row is written once per transaction,
   * with its newest snapshot, while every snapshot still counts into its history bucket: that
   * is what lets a writer that fell behind catch up. The history points are gathered per tier and
   * written at the end, in the rows' order, many per statement. On failure nothing is written. A row's
   * `receivedMs` (else `now`) is the server's time, stored as the node's received_ms when its
   * snapshot is newer than the stored one.
   */
  write(rows: readonly NodeRow[], now = Date.now()): boolean[] {
    const before = new Map<string, KnownNode | undefined>()
    const written: boolean[] = []
    try {
      this.db.transaction(() => {
        const newest = new Map<string, NodeRow>()
        for (const row of rows) written.push(this.writeRow(row, now, newest, before))
        for (const [key, row] of newest) this.upsertLatest.run(...latestParams(row, row.receivedMs ?? now), this.known.get(key)!.id)
        for (const { upsert } of this.tiers) upsert.flush()
      })()
    } catch (error) {
      for (const { upsert } of this.tiers) upsert.clear()
      for (const [key, known] of before) {
        if (known) this.known.set(key, known)
        else this.known.delete(key)
      }
      throw error
    }
    return written
  }

  /**
   * The retention cleanup, in one transaction: history older than each tier's retention; nodes
   * the master has not received from for RETENTION (by its own clock) leave the latest table with
   * their raw points, while their hourly points stay readable until RETENTION_HOURLY; identities
   * with nothing left are forgotten.
   */
  cleanup(now = Date.now()): CleanupResult {
    return this.db.transaction(() => {
      const gone = this.findGoneNodes.all(now - this.settings.retentionMs)
      let rawDeleted = 0
      for (const node of gone) {
        rawDeleted += this.deleteRawHistory.run(node.id).changes
        rawDeleted += sumPoints(this.deleteRawChunks.all(node.id) as { points: number }[])
        this.deleteNode.run(node.id)
        this.known.delete(`${node.cluster_id}\u0000${node.node_name}`)
      }
      const points = Object.fromEntries(
        this.tiers.map(({ tier, deleteExpired, deleteExpiredChunks }) => {
          const cutoffS = Math.floor((now - tier.retentionMs) / 1000)
          return [tier.name, deleteExpired.run(cutoffS).changes + sumPoints(deleteExpiredChunks.all(cutoffS) as { points: number }[])]
        }),
      ) as CleanupResult['points']
      points.raw += rawDeleted
      this.deleteForgottenNodes.run()
      return { points, nodes: gone.length, removed: gone.map((node) => ({ cluster: node.cluster_id, node: node.node_name })) }
    })()
  }

  /** Checkpoints the WAL into the file, truncates it, and closes the connection. */
  close(): void {
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    this.db.close()
  }

  /** false when the row changed nothing: its node already has this snapshot or a newer one. */
  private writeRow(row: NodeRow, now: number, newest: Map<string, NodeRow>, before: Map<string, KnownNode | undefined>): boolean {
    const key = `${row.cluster}\u0000${row.node}`
    const known = this.known.get(key) ?? this.findNode.get(row.cluster, row.node) ?? undefined
    // Older or repeated snapshots (an agent's retry, AtlHyper re-sending a quiet node's last metrics) change nothing.
    if (known?.snapshotMs != null && row.snapshotMs <= known.snapshotMs) return false
    if (!before.has(key)) before.set(key, this.known.get(key))
    // A node first seen gets its identity; one back after removal keeps the one it had.
    const id = known?.id ?? this.insertIdentity.get(row.cluster, row.node)!.id
    // Rows not newer were dropped above, so the last one kept is the newest.
    newest.set(key, row)
    this.known.set(key, { id, snapshotMs: row.snapshotMs })
    const values = encodeValues(row.values)
    const seconds = Math.floor(row.snapshotMs / 1000)
    for (const { tier, upsert } of this.tiers) {
      const bucket = seconds - (seconds % tier.intervalS)
      // A point already past its tier's retention would only be deleted again.
      if ((bucket + tier.intervalS) * 1000 <= now - tier.retentionMs) continue
      upsert.add([id, bucket, ...values])
    }
    return true
  }
}

const sumPoints = (chunks: { points: number }[]) => chunks.reduce((total, chunk) => total + chunk.points, 0)

type LatestParams = (string | number | null | Uint8Array)[]

/** Parameters of a latest row, in this order: cluster, node, snapshot_ms, received_ms, figure columns, snapshot. */
const LATEST_PARAMS = LATEST_COLUMNS.length + 5

/** Parameters of a history point: node id, bucket, one per figure. */
const POINT_PARAMS = FIGURES.length + 2

export const latestParams = (row: NodeRow, receivedMs: number): LatestParams => [
  row.cluster, row.node, row.snapshotMs, receivedMs, ...row.values, ...LATEST_EXTRAS.map((extra) => row[extra.key]), row.json,
]
