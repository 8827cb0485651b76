import { existsSync, statSync } from 'node:fs'
import type { Database } from 'bun:sqlite'
import type { FleetPoint, HistoryPoint, Metric } from '../model'
import { FIGURES, LATEST_COLUMNS, type FigureKey } from '../model/figures'
import { ALL_FIGURES, fleetPoints, historyPoints, mergeBuckets, noBuckets, type Buckets } from './buckets'
import { appendRow, chunkColumns, chunkPoints, decodeChunk, rowColumns, type ChunkRow } from './chunks'
import type { Tier } from './tiers'

/**
 * A latest row's figures, the summary's input. `snapshot_ms`: the snapshot's own time (the agent's
 * clock, epoch ms); `received_ms`: when the master stored it (its own clock, epoch ms).
 */
export type LatestFigures = {
  node_name: string
  snapshot_ms: number
  received_ms: number
  cores: number | null
  mem_total: number | null
  mem_used: number | null
  /** the fullest disk, with its mount */
  disk_max: number | null
  disk_max_mount: string | null
  /** the primary disk's size and use */
  disk_total: number | null
  disk_used: number | null
} & { [key in FigureKey]: number | null }

const FIGURE_COLUMNS = LATEST_COLUMNS.join(', ')

/** A node's stored snapshot JSON (UTF-8), as its agent sent it. */
export type StoredSnapshot = { node_name: string; snapshot: Uint8Array }

/** A cluster's node list, figures and snapshots alike by node name, read in one transaction. */
export type NodeList = { figures: LatestFigures[]; snapshots: StoredSnapshot[] }

/** When a node's newest snapshot was taken (agent clock) and stored (master clock), epoch ms. */
export type NodeTimes = { cluster_id: string; node_name: string; snapshot_ms: number; received_ms: number }

/** Every query the gateway runs, on a read-only connection. It never waits for the writer. */
export class MetricsReader {
  readonly dialect = 'sqlite' as const
  private readonly listFiguresStatement
  private readonly listSnapshotsStatement
  private readonly nodeTimesStatement
  private readonly allFiguresStatement
  private readonly latestStatement
  private readonly nodeIdStatement
  private readonly historyStatements = new Map<string, ReturnType<Database['query']>>()
  private readonly fleetStatements = new Map<string, ReturnType<Database['query']>>()

  /** Called between a history read's chunks and its rows (the test of its read transaction commits a compaction there). */
  betweenReads?: () => void

  constructor(private readonly db: Database) {
    this.listFiguresStatement = db.query<LatestFigures, [string]>(
      `SELECT node_name, snapshot_ms, received_ms, ${FIGURE_COLUMNS} FROM node_metrics_latest WHERE cluster_id = ?1 ORDER BY node_name`,
    )
    this.listSnapshotsStatement = db.query<StoredSnapshot, [string]>(
      'SELECT node_name, snapshot FROM node_metrics_latest WHERE cluster_id = ?1 ORDER BY node_name',
    )
    this.allFiguresStatement = db.query<LatestFigures & { cluster_id: string }, []>(
      `SELECT cluster_id, node_name, snapshot_ms, received_ms, ${FIGURE_COLUMNS} FROM node_metrics_latest ORDER BY cluster_id, node_name`,
    )
    this.nodeTimesStatement = db.query<NodeTimes, []>(
      'SELECT cluster_id, node_name, snapshot_ms, received_ms FROM node_metrics_latest ORDER BY cluster_id',
    )
    this.latestStatement = db.query<{ id: number; snapshot: Uint8Array }, [string, string]>(
      'SELECT id, snapshot FROM node_metrics_latest WHERE cluster_id = ?1 AND node_name = ?2',
    )
    this.nodeIdStatement = db.query<{ id: number }, [string, string]>('SELECT id FROM nodes WHERE cluster_id = ?1 AND node_name = ?2')
  }

  listFigures(clusterId: string): LatestFigures[] {
    return this.listFiguresStatement.all(clusterId)
  }

  listSnapshots(clusterId: string): StoredSnapshot[] {
    return this.listSnapshotsStatement.all(clusterId)
  }

  /**
   * Figures and snapshots of a cluster's nodes from one read transaction: a commit cannot fall
   * between the two reads, so a summary built from the figures always describes the node map.
   */
  nodeList(clusterId: string): NodeList {
    return this.db.transaction(() => ({ figures: this.listFiguresStatement.all(clusterId), snapshots: this.listSnapshotsStatement.all(clusterId) }))()
  }

  /** The figures of every node of every cluster, by cluster. */
  allFigures(): (LatestFigures & { cluster_id: string })[] {
    return this.allFiguresStatement.all()
  }

  /** Every node of every cluster with its snapshot's and its receipt's time, by cluster. */
  nodeTimes(): NodeTimes[] {
    return this.nodeTimesStatement.all()
  }

  /** The node's stored snapshot JSON, or undefined when the node is unknown. */
  latest(clusterId: string, nodeName: string): { id: number; snapshot: Uint8Array } | undefined {
    return this.latestStatement.get(clusterId, nodeName) ?? undefined
  }

  /**
   * The node's identity, which its history points reference; undefined when the master has never
   * stored the node. It outlives the latest row: a node removed after RETENTION keeps its hourly history.
   */
  nodeId(clusterId: string, nodeName: string): number | undefined {
    return this.nodeIdStatement.get(clusterId, nodeName)?.id
  }

  /**
   * When the newest snapshot of the cluster was received (its index makes this a step): it moves
   * with every commit that changed the cluster's nodes, so it tells a cached answer is old.
   */
  newestReceived(clusterId: string): number {
    return (this.db.query('SELECT MAX(received_ms) AS at FROM node_metrics_latest WHERE cluster_id = ?1').get(clusterId) as { at: number | null }).at ?? 0
  }

  /** How many nodes of the cluster have an identity: what a fleet-history answer can hold series of. */
  nodeCount(clusterId: string): number {
    return (this.db.query('SELECT COUNT(*) AS n FROM nodes WHERE cluster_id = ?1').get(clusterId) as { n: number }).n
  }

  /**
   * Points of one node whose buckets start in [fromS, toS), in groups of `widthS` seconds,
   * ascending: the tier's chunks and open rows read as one (storage/buckets.ts), in one read
   * transaction — a compaction that commits between the two reads would otherwise hide its span.
   */
  history(nodeId: number, tier: Tier, fromS: number, toS: number, widthS: number): HistoryPoint[] {
    return this.db.transaction(() => {
      const { chunks, open } = this.stored(nodeId, tier, fromS, toS, ALL_FIGURES)
      // Points at the tier's own width from chunks that neither overlap nor precede an open row
      // (the usual case: the open day follows the closed ones) go straight from the decoded
      // columns to the answer; anything else is merged bucket by bucket first.
      if (widthS === tier.intervalS && inOrder(chunks, open)) {
        const points: HistoryPoint[] = []
        for (const chunk of chunks) chunkPoints(chunk, fromS, toS, points)
        for (const point of historyPoints(open, tier.intervalS, widthS)) points.push(point)
        return points
      }
      return historyPoints(mergeStored(chunks, open, fromS, toS), tier.intervalS, widthS)
    })()
  }

  /** A node's chunks overlapping [fromS, toS) and its open rows in it, of the registry's `figures` (indexes). */
  private stored(nodeId: number, tier: Tier, fromS: number, toS: number, figures: readonly number[]): { chunks: ChunkRow[]; open: Buckets } {
    const key = figures.join(',')
    const chunks = this.cached(this.historyStatements, `${tier.chunkTable}/${key}`, () =>
      this.db.query(`SELECT ${chunkColumns(figures)} FROM ${tier.chunkTable} WHERE node_id = ?1 AND start_s < ?3 AND end_s > ?2 ORDER BY start_s`),
    )
    const rows = this.cached(this.historyStatements, `${tier.table}/${key}`, () =>
      this.db.query(`SELECT ${rowColumns(figures)} FROM ${tier.table} WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3 ORDER BY bucket_s`),
    )
    const compacted = chunks.all(nodeId, fromS, toS) as ChunkRow[]
    this.betweenReads?.()
    const open = noBuckets(figures)
    for (const values of rows.values(nodeId, fromS, toS)) appendRow(open, values)
    return { chunks: compacted, open }
  }

  /** A node's stored buckets of a tier in [fromS, toS), ascending, of the registry's `figures` (indexes). */
  private buckets(nodeId: number, tier: Tier, fromS: number, toS: number, figures: readonly number[]): Buckets {
    const { chunks, open } = this.stored(nodeId, tier, fromS, toS, figures)
    return mergeStored(chunks, open, fromS, toS)
  }

  /**
   * One figure of every node of a cluster, as `history` gives it, by node name. Nodes are found
   * through their identities, so a node removed after RETENTION still shows in ranges its hourly points cover.
   */
  fleetHistory(clusterId: string, metric: Metric, tier: Tier, fromS: number, toS: number, widthS: number): Map<string, FleetPoint[]> {
    const figure = FIGURES.find((candidate) => candidate.field === metric)!
    const index = FIGURES.indexOf(figure)
    const nodes = this.cached(this.fleetStatements, 'nodes', () =>
      this.db.query<{ id: number; node_name: string }, [string]>('SELECT id, node_name FROM nodes WHERE cluster_id = ?1 ORDER BY node_name'),
    )
    const series = new Map<string, FleetPoint[]>()
    this.db.transaction(() => {
      for (const node of nodes.all(clusterId) as { id: number; node_name: string }[]) {
        const points = fleetPoints(this.buckets(node.id, tier, fromS, toS, [index]), figure, widthS)
        if (points.length > 0) series.set(node.node_name, points)
      }
    })()
    return series
  }

  private cached(cache: Map<string, ReturnType<Database['query']>>, key: string, make: () => ReturnType<Database['query']>) {
    let statement = cache.get(key)
    if (!statement) cache.set(key, (statement = make()))
    return statement
  }

  /** Throws when the connection cannot read the schema (a file gone, corrupt or locked away). */
  ping(): void {
    this.db.query('SELECT COUNT(*) FROM node_metrics_latest WHERE id = 0').get()
  }

  /** Bytes of the database file and its WAL. */
  sizeBytes(): number {
    const size = (path: string) => (existsSync(path) ? statSync(path).size : 0)
    return size(this.db.filename) + size(`${this.db.filename}-wal`)
  }

  close(): void {
    this.db.close()
  }
}

/** Chunks that follow one another without overlap, all before the first open row. */
function inOrder(chunks: readonly ChunkRow[], open: Buckets): boolean {
  for (let i = 1; i < chunks.length; i++) if (chunks[i]!.start_s < chunks[i - 1]!.end_s) return false
  return chunks.length === 0 || open.bucketS.length === 0 || open.bucketS[0]! >= chunks.at(-1)!.end_s
}

/** Chunks decoded and merged with the open rows: every bucket once, ascending. */
function mergeStored(chunks: readonly ChunkRow[], open: Buckets, fromS: number, toS: number): Buckets {
  // Chunks do not overlap (storage/compaction.ts), so theirs come in order; any that did would be merged.
  let compacted = noBuckets(open.figures)
  let endS = -Infinity
  for (const chunk of chunks) {
    if (chunk.start_s >= endS) decodeChunk(chunk, compacted, fromS, toS)
    else {
      const overlapping = noBuckets(open.figures)
      decodeChunk(chunk, overlapping, fromS, toS)
      compacted = mergeBuckets(compacted, overlapping)
    }
    endS = Math.max(endS, chunk.end_s)
  }
  return mergeBuckets(compacted, open)
}
