import type { Database } from 'bun:sqlite'
import { deriveFigures } from '../figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../figures/network'
import { LATEST_COLUMNS, LATEST_EXTRAS } from '../model/figures'
import type { NodeMetricsSnapshot } from '../model'
import { encodeValues, upsertPointSql } from './history-encoding'
import { migrate } from './migrations'
import type { NodeRow } from './node-rows'
import { historyTiers, type Tier, type TierSettings } from './tiers'

export type HistorySettings = TierSettings & {
  /** NET_EXCLUDE, for figures derived again from stored snapshots after an upgrade (default: the built-in pattern) */
  netExclude?: string
}

export interface CleanupResult {
  /** history points deleted, per tier */
  points: Record<Tier['name'], number>
  /** nodes not seen for longer than RETENTION, removed with their history */
  nodes: number
}

interface KnownNode {
  id: number
  ts: number
}

/**
 * Every write the master makes, on the writer thread's single read-write connection.
 * It remembers each node's id and newest timestamp so a snapshot costs one upsert of its latest
 * row and one of its history bucket, with no reads.
 */
export class MetricsWriter {
  private readonly known = new Map<string, KnownNode>()
  private readonly findNode
  private readonly insertLatest
  private readonly updateLatest
  private readonly tiers: { tier: Tier; upsert: ReturnType<Database['query']>; deleteExpired: ReturnType<Database['query']> }[]
  private readonly findGoneNodes
  private readonly deleteNode
  private readonly deleteNodeHistory

  constructor(
    private readonly db: Database,
    private readonly settings: HistorySettings,
  ) {
    const migrated = migrate(db)
    this.findNode = db.query<KnownNode, [string, string]>(
      'SELECT id, timestamp AS ts FROM node_metrics_latest WHERE cluster_id = ?1 AND node_name = ?2',
    )
    this.insertLatest = db.query<{ id: number }, LatestParams>(
      `INSERT INTO node_metrics_latest (cluster_id, node_name, timestamp, ${LATEST_COLUMNS.join(', ')}, snapshot)
       VALUES (?1, ?2, ?3, ${LATEST_COLUMNS.map((_, index) => `?${index + 4}`).join(', ')}, ?${LATEST_COLUMNS.length + 4})
       RETURNING id`,
    )
    this.updateLatest = db.query<never, LatestParams>(
      `UPDATE node_metrics_latest
          SET timestamp = ?3, ${LATEST_COLUMNS.map((column, index) => `${column} = ?${index + 4}`).join(', ')},
              snapshot = ?${LATEST_COLUMNS.length + 4}
        WHERE cluster_id = ?1 AND node_name = ?2`,
    )
    this.tiers = historyTiers(settings).map((tier) => ({
      tier,
      upsert: db.query(upsertPointSql(tier.table)),
      // Per node through the primary key, so no index on timestamp alone is needed.
      deleteExpired: db.query(
        `DELETE FROM ${tier.table} WHERE node_id IN (SELECT id FROM node_metrics_latest) AND timestamp < ?1`,
      ),
    }))
    this.findGoneNodes = db.query<{ id: number; cluster_id: string; node_name: string }, [number]>(
      'SELECT id, cluster_id, node_name FROM node_metrics_latest WHERE timestamp < ?1',
    )
    this.deleteNode = db.query<never, [number]>('DELETE FROM node_metrics_latest WHERE id = ?1')
    this.deleteNodeHistory = this.tiers.map(({ tier }) => db.query<never, [number]>(`DELETE FROM ${tier.table} WHERE node_id = ?1`))
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
   * is what lets a writer that fell behind catch up. On failure nothing is written.
   */
  write(rows: readonly NodeRow[], now = Date.now()): boolean[] {
    const before = new Map<string, KnownNode | undefined>()
    const written: boolean[] = []
    try {
      this.db.transaction(() => {
        const newest = new Map<string, NodeRow>()
        for (const row of rows) written.push(this.writeRow(row, now, newest, before))
        for (const row of newest.values()) this.updateLatest.run(...latestParams(row))
      })()
    } catch (error) {
      for (const [key, known] of before) {
        if (known) this.known.set(key, known)
        else this.known.delete(key)
      }
      throw error
    }
    return written
  }

  /**
   * The retention cleanup, in one transaction: history older than each tier's retention, and
   * nodes whose newest snapshot is older than RETENTION, with all their history.
   */
  cleanup(now = Date.now()): CleanupResult {
    return this.db.transaction(() => {
      const gone = this.findGoneNodes.all(now - this.settings.retentionMs)
      for (const node of gone) {
        for (const statement of this.deleteNodeHistory) statement.run(node.id)
        this.deleteNode.run(node.id)
        this.known.delete(`${node.cluster_id}\u0000${node.node_name}`)
      }
      const points = Object.fromEntries(
        this.tiers.map(({ tier, deleteExpired }) => [tier.name, deleteExpired.run(Math.floor((now - tier.retentionMs) / 1000)).changes]),
      ) as CleanupResult['points']
      return { points, nodes: gone.length }
    })()
  }

  /** false when the row changed nothing: its node already has this snapshot or a newer one. */
  private writeRow(row: NodeRow, now: number, newest: Map<string, NodeRow>, before: Map<string, KnownNode | undefined>): boolean {
    const key = `${row.cluster}\u0000${row.node}`
    const known = this.known.get(key) ?? this.findNode.get(row.cluster, row.node) ?? undefined
    // Older or repeated snapshots (an agent's retry, a re-send after a writer restart) change nothing.
    if (known && row.ts <= known.ts) return false
    if (!before.has(key)) before.set(key, this.known.get(key))
    let id: number
    if (known) {
      id = known.id
      newest.set(key, row)
    } else {
      id = this.insertLatest.get(...latestParams(row))!.id
    }
    this.known.set(key, { id, ts: row.ts })
    const values = encodeValues(row.values)
    const seconds = Math.floor(row.ts / 1000)
    for (const { tier, upsert } of this.tiers) {
      const bucket = seconds - (seconds % tier.intervalS)
      // A point already past its tier's retention would only be deleted again.
      if ((bucket + tier.intervalS) * 1000 <= now - tier.retentionMs) continue
      upsert.run(id, bucket, ...values)
    }
    return true
  }
}

type LatestParams = (string | number | null | Uint8Array)[]

export const latestParams = (row: NodeRow): LatestParams => [
  row.cluster, row.node, row.ts, ...row.values, ...LATEST_EXTRAS.map((extra) => row[extra.key]), row.json,
]
