import { FIGURES } from '../src/model/figures'
import { openWriteConnection } from '../src/storage/connection'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { roundRows, workload } from './workload'

const BUCKET_S = 300
const DAY_S = 86_400

/**
 * A database as it looks after `days` of a `nodes`-node cluster reporting: the latest rows
 * through the real writer, the history points (one per 5-minute bucket) inserted directly,
 * with figures that vary the way real ones do.
 */
export function prefill(dbPath: string, clusterPrefix: string, nodes: number, days: number): { clusterId: string; nodeNames: string[]; points: number } {
  const db = openWriteConnection(dbPath)
  const writer = new MetricsWriter(db, { sampleIntervalMs: BUCKET_S * 1000, retentionMs: (days + 1) * DAY_S * 1000, retentionHourlyMs: 366 * DAY_S * 1000 })
  const load = workload(nodes, nodes, clusterPrefix)
  writer.write(roundRows(load, Date.now() - 60_000))
  const ids = db.query<{ id: number }, []>('SELECT id FROM node_metrics_latest ORDER BY id').all()
  const columns = FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])
  const insertInto = (table: string, samples: number) => {
    const statement = db.query(
      `INSERT OR IGNORE INTO ${table} (node_id, bucket_s, samples, ${columns.join(', ')})
       VALUES (${Array.from({ length: columns.length + 3 }, (_, index) => `?${index + 1}`).join(', ')})`,
    )
    return (id: number, ts: number, averages: number[], peaks: number[]) =>
      // Every sample had every figure: counts NULL, as the writer stores them (storage/history-encoding.ts).
      statement.run(id, ts, samples, ...averages.flatMap((average, index) => [average * samples, null, peaks[index]!]))
  }
  const insert = insertInto('node_metrics_history', 60)
  const insertHourly = insertInto('node_metrics_history_hourly', 720)
  const now = Math.floor(Date.now() / 1000 / BUCKET_S) * BUCKET_S
  const first = now - days * DAY_S
  let points = 0
  const fillNode = db.transaction((id: number) => {
    for (let ts = first; ts <= now; ts += BUCKET_S) {
      const day = Math.sin((2 * Math.PI * ts) / DAY_S + id)
      // Stored (scaled) averages of every registry figure, shaped by its unit: a daily cycle and some noise.
      const averages = FIGURES.map((figure, index) => {
        const wave = 0.6 + 0.35 * day + 0.05 * Math.sin(ts / 977 + id * 13 + index) // 0.2 … 1
        const typical = { '%': 80, '°C': 70, 'B/s': 3e6, '': 4 }[figure.unit] ?? 1
        return Math.round(typical * wave * figure.scale * (figure.key === 'disk' ? 1 + (ts - first) / (days * DAY_S) / 10 : 1) * 0.9)
      })
      // Peaks above the averages by a varying margin, as spikes are.
      const peaks = averages.map((value, index) => Math.round(value * (1.05 + 0.3 * Math.abs(Math.sin(ts / 613 + index)))))
      insert(id, ts, averages, peaks)
      if (ts % 3600 === 0) insertHourly(id, ts, averages, peaks)
      points++
    }
    // Closed days become chunks as the writer would compact them, node by node.
    writer.compactor.compactItems(writer.compactor.itemsFor(id, Date.now()))
  })
  for (const { id } of ids) fillNode(id)
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  db.close()
  return { clusterId: load.clusters[0]!.clusterId, nodeNames: load.clusters[0]!.nodes.map((node) => node.name), points }
}

/** Bytes on disk per row of each table (and its indexes), from a VACUUMed copy. */
export function storageFigures(dbPath: string, copyPath: string) {
  const db = openWriteConnection(dbPath)
  db.exec(`VACUUM INTO '${copyPath.replace(/'/g, "''")}'`)
  db.close()
  const copy = openWriteConnection(copyPath)
  const bytes = (names: string[]) =>
    (copy.query(`SELECT SUM(pgsize) AS size FROM dbstat WHERE name IN (${names.map(() => '?').join(',')})`).get(...names) as { size: number }).size
  const count = (table: string) => (copy.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n
  // Points of a tier: its open rows and the points of its chunks.
  const points = (table: string) =>
    count(table) + (copy.query(`SELECT TOTAL(points) AS n FROM ${table}_chunks`).get() as { n: number }).n
  const tierBytes = (table: string) => bytes([table, `${table}_chunks`, `sqlite_autoindex_${table}_chunks_1`])
  const historyRows = points('node_metrics_history')
  const hourlyRows = points('node_metrics_history_hourly')
  const latestRows = count('node_metrics_latest')
  const figures = {
    historyRows,
    latestRows,
    hourlyRows,
    /** of the raw tier's points, those in chunks (the rest: the open day's rows) */
    chunkedHistoryPoints: historyRows - count('node_metrics_history'),
    bytesPerHistoryPoint: tierBytes('node_metrics_history') / historyRows,
    bytesPerHourlyPoint: tierBytes('node_metrics_history_hourly') / hourlyRows,
    bytesPerLatestRow: bytes(['node_metrics_latest', 'sqlite_autoindex_node_metrics_latest_1']) / latestRows,
    fileBytes: Bun.file(copyPath).size,
  }
  copy.close()
  return figures
}
