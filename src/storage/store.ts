/**
 * The storage seam: the writer Worker and the gateway talk to these two interfaces, and a dialect
 * implements them — SQLite (storage/sqlite-store.ts, the embedded default, DB_PATH) or PostgreSQL
 * (storage/postgres/, DATABASE_URL). Both keep the same rows and answer every read with the same
 * bytes: history points are worked out in TypeScript from the stored sums, counts and peaks
 * (storage/buckets.ts), whichever engine held them.
 */
import type { FleetPoint, HistoryPoint, Metric } from '../model'
import type { CleanupResult } from './metrics-writer'
import type { LatestFigures, NodeList, NodeTimes } from './metrics-reader'
import type { NodeRow } from './node-rows'
import type { Tier, TierSettings } from './tiers'

/** A value now or later: SQLite answers at once, PostgreSQL over the network. */
export type Awaitable<T> = T | Promise<T>

/** Where the master stores: the dialect and how to reach it. */
export type StoreLocation =
  | { dialect: 'sqlite'; dbPath: string }
  /** `readUrl`: DATABASE_READ_URL, a replica for the gateway's reads (default: `url`) */
  | { dialect: 'postgres'; url: string; readUrl?: string }

export type WriteStoreSettings = TierSettings & {
  /** NET_EXCLUDE, for figures derived again from stored snapshots after an upgrade */
  netExclude?: string
}

/**
 * What the writer Worker does to storage. Every call is one transaction: it commits whole or
 * changes nothing, and a promise that rejects promises that nothing of the call is stored
 * (a lost connection may hide a commit; the agent's retry is then harmless, see `write`).
 */
export interface WriteStore {
  readonly dialect: StoreLocation['dialect']
  /**
   * Stores the rows: each node's latest row takes its newest snapshot (never an older one, even
   * when another master wrote a newer one meanwhile), and every snapshot newer than the node's
   * stored one counts into its history bucket of each tier — sums and counts add, peaks take the
   * greater, whoever wrote the bucket before. Per row: whether it changed anything (false for a
   * snapshot not newer than the stored one: a retry, or a re-sent quiet node). `receivedMs` of a
   * row (else `now`) is the server's receive time.
   */
  write(rows: readonly NodeRow[], now?: number): Awaitable<boolean[]>
  /** Retention as of `now`: expired history, and nodes not received from for RETENTION. */
  cleanup(now?: number): Awaitable<CleanupResult>
  /** Commits nothing more and lets go of the engine (SQLite: checkpoints and truncates the WAL). */
  close(): Awaitable<void>
}

/** Every read the gateway makes. None waits for the writer. */
export interface ReadStore {
  readonly dialect: StoreLocation['dialect']
  listFigures(clusterId: string): Awaitable<LatestFigures[]>
  /** figures and snapshots of a cluster's nodes, by node name, from one read transaction */
  nodeList(clusterId: string): Awaitable<NodeList>
  /** the figures of every node of every cluster, by cluster then node */
  allFigures(): Awaitable<(LatestFigures & { cluster_id: string })[]>
  /** every node with its snapshot's and its receipt's time, by cluster */
  nodeTimes(): Awaitable<NodeTimes[]>
  /** the node's stored snapshot JSON, or undefined when unknown */
  latest(clusterId: string, nodeName: string): Awaitable<{ id: number; snapshot: Uint8Array } | undefined>
  /** the node's identity, which outlives its latest row; undefined when never stored */
  nodeId(clusterId: string, nodeName: string): Awaitable<number | undefined>
  /** the newest received_ms of the cluster's latest rows (0: none): it moves with every commit, whichever master made it */
  newestReceived(clusterId: string): Awaitable<number>
  /** nodes of the cluster with an identity */
  nodeCount(clusterId: string): Awaitable<number>
  /** a node's points whose buckets start in [fromS, toS), in groups of widthS seconds, ascending */
  history(nodeId: number, tier: Tier, fromS: number, toS: number, widthS: number): Awaitable<HistoryPoint[]>
  /** one figure of every node of a cluster, as `history` gives it, by node name */
  fleetHistory(clusterId: string, metric: Metric, tier: Tier, fromS: number, toS: number, widthS: number): Awaitable<Map<string, FleetPoint[]>>
  /** throws (rejects) when the store cannot be read */
  ping(): Awaitable<void>
  /** bytes the store holds (SQLite: the file and its WAL; PostgreSQL: the database) */
  sizeBytes(): Awaitable<number>
  close(): Awaitable<void>
}

/**
 * A store that cannot be opened; `corrupt`: the file is damaged (the master refuses to start on
 * it); `unreachable`: the server could not be reached, which may pass (the writer tries again).
 */
export class StoreOpenError extends Error {
  constructor(
    message: string,
    readonly corrupt = false,
    readonly unreachable = false,
  ) {
    super(message)
  }
}
