import type { CleanupResult } from '../storage/metrics-writer'
import type { EncodedRows } from '../storage/node-rows'
import type { StoreLocation } from '../storage/store'

/** The channel between the DataHub actor on the main thread and the writer Worker. */

export interface WriterSettings {
  /** SQLite at DB_PATH or PostgreSQL at DATABASE_URL */
  store: StoreLocation
  sampleIntervalMs: number
  retentionMs: number
  retentionHourlyMs: number
  cleanupIntervalMs: number
  /** NET_EXCLUDE, for figures derived again from stored snapshots after an upgrade */
  netExclude: string
  /** act on fault-injection messages (src/faults): the tests only */
  faultHooks?: boolean
}

/** main thread → writer */
export type HubToWriter =
  | { type: 'open'; settings: WriterSettings }
  /** node rows (transferred); answered by `committed` or `failed` with the same batch */
  | { type: 'write'; batch: number; rows: EncodedRows; receivedMs: number }
  /**
   * run the retention cleanup now, then compact the history spans closed by then (tests and
   * operators; the timer does both on its own too), as of `now` if given
   */
  | { type: 'cleanup'; now?: number }
  /** commit what is queued, checkpoint the WAL, close the database, then say `closed` */
  | { type: 'close' }

/** writer → main thread */
export type WriterToHub =
  | { type: 'ready' }
  /**
   * `rows` committed in one transaction that took `ms`; `stored[i]`: how many of batch i's node
   * snapshots changed something (one not newer than its node's stored snapshot changes nothing)
   */
  | { type: 'committed'; batches: number[]; stored: number[]; rows: number; ms: number }
  | { type: 'failed'; batches: number[]; message: string }
  /**
   * the transaction holding these batches has not been answered for STUCK_WRITE_MS: it may still
   * commit, so their agents are told it is unconfirmed (504) rather than kept waiting; `committed`
   * or `failed` still follows when the store answers
   */
  | { type: 'unconfirmed'; batches: number[]; message: string }
  /** a compaction pass turned `points` open history rows (by tier) into chunk points, in `ms` over `spans` steps of a node span */
  | { type: 'compacted'; points: Record<string, number>; spans: number; ms: number }
  /** what a retention cleanup deleted: history points per tier, and the nodes gone for longer than RETENTION */
  | ({ type: 'cleaned' } & CleanupResult)
  /** the writer cannot go on; `corrupt`: the file is damaged (the master refuses to start on it) */
  | { type: 'fatal'; message: string; corrupt?: boolean }
  | { type: 'closed' }
