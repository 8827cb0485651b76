import type { Database } from 'bun:sqlite'
import { encodePoint } from './history-encoding'
import { migrate } from './migrations'
import type { NodeRow } from './node-rows'

export interface HistorySettings {
  sampleIntervalMs: number
  retentionMs: number
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
  private readonly upsertHistory
  private readonly deleteExpired

  constructor(
    private readonly db: Database,
    private readonly settings: HistorySettings,
  ) {
    migrate(db)
    this.findNode = db.query<KnownNode, [string, string]>(
      'SELECT id, timestamp AS ts FROM node_metrics_latest WHERE cluster_id = ?1 AND node_name = ?2',
    )
    this.insertLatest = db.query<{ id: number }, LatestParams>(
      `INSERT INTO node_metrics_latest
         (cluster_id, node_name, timestamp, cpu, mem, temp, cores, mem_total, mem_used, disk_max, disk_max_mount, snapshot)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
       RETURNING id`,
    )
    this.updateLatest = db.query<never, LatestParams>(
      `UPDATE node_metrics_latest
          SET timestamp = ?3, cpu = ?4, mem = ?5, temp = ?6, cores = ?7, mem_total = ?8, mem_used = ?9,
              disk_max = ?10, disk_max_mount = ?11, snapshot = ?12
        WHERE cluster_id = ?1 AND node_name = ?2`,
    )
    // A bucket's point is the running mean of the snapshots in it, kept as a rounded integer (the
    // rounding of earlier steps weighs less with every sample); a missing figure leaves it as is.
    const mean = (column: string) =>
      `${column} = COALESCE(CAST(ROUND(${column} + (excluded.${column} - ${column}) * 1.0 / (samples + 1)) AS INTEGER),
                            ${column}, excluded.${column})`
    this.upsertHistory = db.query<never, HistoryParams>(
      `INSERT INTO node_metrics_history (node_id, timestamp, samples, cpu, mem, disk, temp, net_rx, net_tx)
       VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8)
       ON CONFLICT (node_id, timestamp) DO UPDATE SET
         samples = samples + 1,
         ${['cpu', 'mem', 'disk', 'temp', 'net_rx', 'net_tx'].map(mean).join(',\n         ')}`,
    )
    // Per node through the primary key, so no index on timestamp alone is needed.
    this.deleteExpired = db.query<never, [number]>(
      `DELETE FROM node_metrics_history
        WHERE node_id IN (SELECT id FROM node_metrics_latest) AND timestamp < ?1`,
    )
  }

  /**
   * Writes all rows in one transaction. A node's latest row is written once per transaction,
   * with its newest snapshot, while every snapshot still counts into its history bucket: that
   * is what lets a writer that fell behind catch up. On failure nothing is written.
   */
  write(rows: readonly NodeRow[], now = Date.now()): void {
    const before = new Map<string, KnownNode | undefined>()
    try {
      this.db.transaction(() => {
        const newest = new Map<string, NodeRow>()
        for (const row of rows) this.writeRow(row, now, newest, before)
        for (const row of newest.values()) this.updateLatest.run(...latestParams(row))
      })()
    } catch (error) {
      for (const [key, known] of before) {
        if (known) this.known.set(key, known)
        else this.known.delete(key)
      }
      throw error
    }
  }

  /** Deletes history older than the retention window; returns how many points went. */
  deleteExpiredHistory(now = Date.now()): number {
    return this.deleteExpired.run(Math.floor((now - this.settings.retentionMs) / 1000)).changes
  }

  private writeRow(row: NodeRow, now: number, newest: Map<string, NodeRow>, before: Map<string, KnownNode | undefined>) {
    const key = `${row.cluster}\u0000${row.node}`
    const known = this.known.get(key) ?? this.findNode.get(row.cluster, row.node) ?? undefined
    // Older or repeated snapshots (an agent's retry, a re-send after a writer restart) change nothing.
    if (known && row.ts <= known.ts) return
    if (!before.has(key)) before.set(key, this.known.get(key))
    let id: number
    if (known) {
      id = known.id
      newest.set(key, row)
    } else {
      id = this.insertLatest.get(...latestParams(row))!.id
    }
    this.known.set(key, { id, ts: row.ts })
    const bucket = row.ts - (row.ts % this.settings.sampleIntervalMs)
    if (bucket + this.settings.sampleIntervalMs <= now - this.settings.retentionMs) return
    const point = encodePoint(row)
    this.upsertHistory.run(id, bucket / 1000, point.cpu, point.mem, point.disk, point.temp, point.netRx, point.netTx)
  }
}

type Nullable = number | null
type LatestParams = [string, string, number, Nullable, Nullable, Nullable, Nullable, Nullable, Nullable, Nullable, string | null, Uint8Array]
type HistoryParams = [number, number, Nullable, Nullable, Nullable, Nullable, Nullable, Nullable]

const latestParams = (row: NodeRow): LatestParams => [
  row.cluster,
  row.node,
  row.ts,
  row.cpu,
  row.mem,
  row.temp,
  row.cores,
  row.memTotal,
  row.memUsed,
  row.diskMax,
  row.diskMaxMount,
  row.json,
]
