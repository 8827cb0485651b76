import type { Database } from 'bun:sqlite'
import type { HistoryPoint } from '../model'
import { DECODED_POINT_COLUMNS } from './history-encoding'

/** A latest row with the figures the summary is computed from; `snapshot` is the stored JSON (UTF-8). */
export interface LatestRow {
  node_name: string
  snapshot: Uint8Array
  cpu: number | null
  mem: number | null
  temp: number | null
  cores: number | null
  mem_total: number | null
  mem_used: number | null
  disk_max: number | null
  disk_max_mount: string | null
}

/** Every query the gateway runs, on a read-only connection. It never waits for the writer. */
export class MetricsReader {
  private readonly listLatestStatement
  private readonly latestStatement
  private readonly historyStatement

  constructor(private readonly db: Database) {
    this.listLatestStatement = db.query<LatestRow, [string]>(
      `SELECT node_name, snapshot, cpu, mem, temp, cores, mem_total, mem_used, disk_max, disk_max_mount
         FROM node_metrics_latest WHERE cluster_id = ?1 ORDER BY node_name`,
    )
    this.latestStatement = db.query<{ id: number; snapshot: Uint8Array }, [string, string]>(
      'SELECT id, snapshot FROM node_metrics_latest WHERE cluster_id = ?1 AND node_name = ?2',
    )
    this.historyStatement = db.query<HistoryPoint, [number, number]>(
      `SELECT ${DECODED_POINT_COLUMNS}
         FROM node_metrics_history
        WHERE node_id = ?1 AND timestamp >= ?2
        ORDER BY timestamp`,
    )
  }

  listLatest(clusterId: string): LatestRow[] {
    return this.listLatestStatement.all(clusterId)
  }

  /** The node's stored snapshot JSON, or undefined when the node is unknown. */
  latest(clusterId: string, nodeName: string): { id: number; snapshot: Uint8Array } | undefined {
    return this.latestStatement.get(clusterId, nodeName) ?? undefined
  }

  /** Points of one node whose bucket starts at `since` (epoch ms) or later, ascending. */
  history(nodeId: number, since: number): HistoryPoint[] {
    return this.historyStatement.all(nodeId, Math.ceil(since / 1000))
  }

  close(): void {
    this.db.close()
  }
}
