import type { SQL } from 'bun'
import type { FleetPoint, HistoryPoint, Metric } from '../../model'
import { FIGURES, LATEST_COLUMNS } from '../../model/figures'
import { ALL_FIGURES, fleetPoints, historyPoints, noBuckets, type Buckets } from '../buckets'
import { appendRow } from '../chunks'
import type { LatestFigures, NodeList, NodeTimes, StoredSnapshot } from '../metrics-reader'
import type { ReadStore } from '../store'
import type { Tier } from '../tiers'

/**
 * Numbers as JS numbers: bigint and numeric columns come from Bun's client as strings, so bucket
 * starts, sums and sizes are read as float8 — for a sum the double nearest to it, as bun:sqlite
 * gives a 64-bit INTEGER. (Times are float8 columns already.)
 */
const TIMES = 'snapshot_ms, received_ms'
const FIGURE_COLUMNS = LATEST_COLUMNS.join(', ')

/** The raw columns of a tier's rows in chunks.ts rowColumns order, as appendRow takes them. */
const rowColumns = (figures: readonly number[], prefix = '') =>
  [
    `${prefix}bucket_s::float8`,
    `${prefix}samples`,
    ...figures.flatMap((f) => [`${prefix}${FIGURES[f]!.key}_sum::float8`, `${prefix}${FIGURES[f]!.key}_n`, `${prefix}${FIGURES[f]!.key}_max`]),
  ].join(', ')

/** A bound of a bucket range as an int8 parameter: buckets are whole seconds, so [from, to) holds the same ones rounded up. */
const boundS = (s: number) => Math.min(Math.max(Math.ceil(s), -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)

/** A bytea as bun:sqlite gives a BLOB: a plain Uint8Array (over the same memory), not a Buffer. */
const bytesOf = (buffer: Uint8Array) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)

/**
 * Every read the gateway makes, on PostgreSQL (or a replica of it: DATABASE_READ_URL), with the
 * answers MetricsReader gives on SQLite: the same shapes, order and numbers. History points are
 * worked out from the stored sums, counts and peaks by the same code (storage/buckets.ts). Each
 * read is one statement, so it sees one committed state.
 */
export class PostgresReadStore implements ReadStore {
  readonly dialect = 'postgres' as const

  constructor(private readonly sql: SQL) {}

  async listFigures(clusterId: string): Promise<LatestFigures[]> {
    return Array.from(
      await this.sql.unsafe(`SELECT node_name, ${TIMES}, ${FIGURE_COLUMNS} FROM node_metrics_latest WHERE cluster_id = $1 ORDER BY node_name`, [clusterId]),
    )
  }

  /** Figures and snapshots in one statement: one committed state for both. */
  async nodeList(clusterId: string): Promise<NodeList> {
    const rows: (LatestFigures & { snapshot: Uint8Array })[] = await this.sql.unsafe(
      `SELECT node_name, ${TIMES}, ${FIGURE_COLUMNS}, snapshot FROM node_metrics_latest WHERE cluster_id = $1 ORDER BY node_name`,
      [clusterId],
    )
    const figures: LatestFigures[] = []
    const snapshots: StoredSnapshot[] = []
    for (const { snapshot, ...row } of rows) {
      figures.push(row)
      snapshots.push({ node_name: row.node_name, snapshot: bytesOf(snapshot) })
    }
    return { figures, snapshots }
  }

  async allFigures(): Promise<(LatestFigures & { cluster_id: string })[]> {
    return Array.from(await this.sql.unsafe(`SELECT cluster_id, node_name, ${TIMES}, ${FIGURE_COLUMNS} FROM node_metrics_latest ORDER BY cluster_id, node_name`))
  }

  /** By cluster, then in the order SQLite's index on (cluster_id, received_ms) gives them. */
  async nodeTimes(): Promise<NodeTimes[]> {
    return Array.from(await this.sql.unsafe(`SELECT cluster_id, node_name, ${TIMES} FROM node_metrics_latest ORDER BY cluster_id, received_ms, id`))
  }

  async latest(clusterId: string, nodeName: string): Promise<{ id: number; snapshot: Uint8Array } | undefined> {
    const [row] = await this.sql.unsafe('SELECT id, snapshot FROM node_metrics_latest WHERE cluster_id = $1 AND node_name = $2', [clusterId, nodeName])
    return row ? { id: row.id, snapshot: bytesOf(row.snapshot) } : undefined
  }

  async nodeId(clusterId: string, nodeName: string): Promise<number | undefined> {
    const [row] = await this.sql.unsafe('SELECT id FROM nodes WHERE cluster_id = $1 AND node_name = $2', [clusterId, nodeName])
    return row?.id
  }

  async newestReceived(clusterId: string): Promise<number> {
    const [row] = await this.sql.unsafe('SELECT max(received_ms) AS at FROM node_metrics_latest WHERE cluster_id = $1', [clusterId])
    return row?.at ?? 0
  }

  async nodeCount(clusterId: string): Promise<number> {
    const [row] = await this.sql.unsafe('SELECT count(*)::int AS n FROM nodes WHERE cluster_id = $1', [clusterId])
    return row.n
  }

  async history(nodeId: number, tier: Tier, fromS: number, toS: number, widthS: number): Promise<HistoryPoint[]> {
    const rows: unknown[][] = await this.sql
      .unsafe(
        `SELECT ${rowColumns(ALL_FIGURES)} FROM ${tier.table} WHERE node_id = $1 AND bucket_s >= $2::int8 AND bucket_s < $3::int8 ORDER BY bucket_s`,
        [nodeId, boundS(fromS), boundS(toS)],
      )
      .values()
    const buckets = noBuckets()
    for (const values of rows) appendRow(buckets, values)
    return historyPoints(buckets, tier.intervalS, widthS)
  }

  /** Every node of the cluster in one statement, through identities (a node removed after RETENTION keeps its hourly points). */
  async fleetHistory(clusterId: string, metric: Metric, tier: Tier, fromS: number, toS: number, widthS: number): Promise<Map<string, FleetPoint[]>> {
    const figure = FIGURES.find((candidate) => candidate.field === metric)!
    const index = FIGURES.indexOf(figure)
    const rows: unknown[][] = await this.sql
      .unsafe(
        `SELECT n.node_name, ${rowColumns([index], 'h.')} FROM nodes n JOIN ${tier.table} h ON h.node_id = n.id
          WHERE n.cluster_id = $1 AND h.bucket_s >= $2::int8 AND h.bucket_s < $3::int8 ORDER BY n.node_name, h.bucket_s`,
        [clusterId, boundS(fromS), boundS(toS)],
      )
      .values()
    const series = new Map<string, FleetPoint[]>()
    let name: string | undefined
    let buckets: Buckets | undefined
    const flush = () => {
      if (name === undefined || !buckets) return
      const points = fleetPoints(buckets, figure, widthS)
      if (points.length > 0) series.set(name, points)
    }
    for (const row of rows) {
      if (row[0] !== name) {
        flush()
        name = row[0] as string
        buckets = noBuckets([index])
      }
      appendRow(buckets!, row.slice(1))
    }
    flush()
    return series
  }

  /** Rejects when the schema cannot be read: the server is gone, or the database is not the master's. */
  async ping(): Promise<void> {
    await this.sql`SELECT count(*) FROM node_metrics_latest WHERE id = 0`
  }

  async sizeBytes(): Promise<number> {
    const [row] = await this.sql`SELECT pg_database_size(current_database())::float8 AS size`
    return row.size
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 5 })
  }
}
