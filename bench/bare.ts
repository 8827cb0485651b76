import { openWriteConnection } from '../src/storage/connection'
import { encodeValues, upsertPointSql } from '../src/storage/history-encoding'
import { LATEST_COLUMNS } from '../src/model/figures'
import { latestParams } from '../src/storage/metrics-writer'
import { migrate } from '../src/storage/migrations'
import type { NodeRow } from '../src/storage/node-rows'

const ROWS_PER_TRANSACTION = 1000
const BUCKET_MS = 300_000
const HOUR_MS = 3_600_000

/**
 * The bare limit: the same rows, upserted by bun:sqlite in a plain loop of 1000-row
 * transactions into the same schema — the latest row and the history bucket of each tier, with
 * the master's own statements — with no HTTP, validation, threads or caching.
 */
export function bareUpserts(dbPath: string, warmRows: NodeRow[], timedRows: NodeRow[]): { rowsPerSecond: number; seconds: number } {
  const db = openWriteConnection(dbPath)
  migrate(db)
  const latest = db.query<{ id: number }, (string | number | null | Uint8Array)[]>(
    `INSERT INTO node_metrics_latest (cluster_id, node_name, snapshot_ms, received_ms, ${LATEST_COLUMNS.join(', ')}, snapshot)
     VALUES (?1, ?2, ?3, ?4, ${LATEST_COLUMNS.map((_, index) => `?${index + 5}`).join(', ')}, ?${LATEST_COLUMNS.length + 5})
     ON CONFLICT (cluster_id, node_name) DO UPDATE SET
       snapshot_ms = excluded.snapshot_ms, received_ms = excluded.received_ms,
       ${LATEST_COLUMNS.map((column) => `${column} = excluded.${column}`).join(', ')},
       snapshot = excluded.snapshot
     RETURNING id`,
  )
  const [raw, hourly] = ['node_metrics_history', 'node_metrics_history_hourly'].map((table) => db.query(upsertPointSql(table)))
  const upsert = db.transaction((rows: NodeRow[]) => {
    for (const row of rows) {
      const { id } = latest.get(...latestParams(row, row.snapshotMs))!
      const values = encodeValues(row.values)
      raw!.run(id, (row.snapshotMs - (row.snapshotMs % BUCKET_MS)) / 1000, ...values)
      hourly!.run(id, (row.snapshotMs - (row.snapshotMs % HOUR_MS)) / 1000, ...values)
    }
  })
  const run = (rows: NodeRow[]) => {
    for (let at = 0; at < rows.length; at += ROWS_PER_TRANSACTION) upsert(rows.slice(at, at + ROWS_PER_TRANSACTION))
  }
  run(warmRows)
  const started = performance.now()
  run(timedRows)
  const seconds = (performance.now() - started) / 1000
  db.close()
  return { rowsPerSecond: timedRows.length / seconds, seconds }
}
