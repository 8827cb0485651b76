import { openWriteConnection } from '../src/storage/connection'
import { encodePoint } from '../src/storage/history-encoding'
import { migrate } from '../src/storage/migrations'
import type { NodeRow } from '../src/storage/node-rows'

const ROWS_PER_TRANSACTION = 1000
const BUCKET_MS = 300_000
const HOUR_MS = 3_600_000

/**
 * The bare limit: the same rows, upserted by bun:sqlite in a plain loop of 1000-row
 * transactions into the same schema — the latest row and the history bucket of each — with no
 * HTTP, validation, threads or caching.
 */
export function bareUpserts(dbPath: string, warmRows: NodeRow[], timedRows: NodeRow[]): { rowsPerSecond: number; seconds: number } {
  const db = openWriteConnection(dbPath)
  migrate(db)
  const latest = db.query<{ id: number }, (string | number | null | Uint8Array)[]>(
    `INSERT INTO node_metrics_latest
       (cluster_id, node_name, timestamp, cpu, mem, temp, cores, mem_total, mem_used, disk_max, disk_max_mount, snapshot)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
     ON CONFLICT (cluster_id, node_name) DO UPDATE SET
       timestamp = excluded.timestamp, cpu = excluded.cpu, mem = excluded.mem, temp = excluded.temp, cores = excluded.cores,
       mem_total = excluded.mem_total, mem_used = excluded.mem_used, disk_max = excluded.disk_max,
       disk_max_mount = excluded.disk_max_mount, snapshot = excluded.snapshot
     RETURNING id`,
  )
  // Both history tiers, as the master keeps them: the same rows of SQL work, none of the logic.
  const [raw, hourly] = ['node_metrics_history', 'node_metrics_history_hourly'].map((table) =>
    db.query(
      `INSERT INTO ${table} (node_id, timestamp, samples, cpu, mem, disk, temp, net_rx, net_tx, cpu_max, mem_max, disk_max, temp_max, net_rx_max, net_tx_max)
       VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?3, ?4, ?5, ?6, ?7, ?8)
       ON CONFLICT (node_id, timestamp) DO UPDATE SET samples = samples + 1, cpu = excluded.cpu, mem = excluded.mem,
         disk = excluded.disk, temp = excluded.temp, net_rx = excluded.net_rx, net_tx = excluded.net_tx,
         cpu_max = MAX(cpu_max, excluded.cpu), mem_max = MAX(mem_max, excluded.mem), disk_max = MAX(disk_max, excluded.disk),
         temp_max = MAX(temp_max, excluded.temp), net_rx_max = MAX(net_rx_max, excluded.net_rx), net_tx_max = MAX(net_tx_max, excluded.net_tx)`,
    ),
  )
  const upsert = db.transaction((rows: NodeRow[]) => {
    for (const row of rows) {
      const { id } = latest.get(row.cluster, row.node, row.ts, row.cpu, row.mem, row.temp, row.cores, row.memTotal, row.memUsed,
        row.diskMax, row.diskMaxMount, row.json)!
      const point = encodePoint(row)
      const values = [point.cpu, point.mem, point.disk, point.temp, point.netRx, point.netTx]
      raw!.run(id, (row.ts - (row.ts % BUCKET_MS)) / 1000, ...values)
      hourly!.run(id, (row.ts - (row.ts % HOUR_MS)) / 1000, ...values)
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
