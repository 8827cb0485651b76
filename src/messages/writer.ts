import type { CleanupResult } from '../storage/metrics-writer'
import type { EncodedRows } from '../storage/node-rows'

/** The channel between the DataHub actor on the main thread and the writer Worker. */

export interface WriterSettings {
  dbPath: string
  sampleIntervalMs: number
  retentionMs: number
  retentionHourlyMs: number
  cleanupIntervalMs: number
  /** NET_EXCLUDE, for figures derived again from stored snapshots after an upgrade */
  netExclude: string
}

export type WriterFault =
  /** throw out of the message handler: the Worker dies as it would on a bug */
  | { kind: 'crash' }
  /** sleep this long before every transaction: a writer that falls behind */
  | { kind: 'delay'; ms: number }
  /** cap the file at its current size (PRAGMA max_page_count): writes fail with SQLITE_FULL until lifted */
  | { kind: 'disk-full'; on: boolean }
  /** refuse writes (PRAGMA query_only): writes fail with SQLITE_READONLY until lifted */
  | { kind: 'read-only'; on: boolean }

/** main thread → writer */
export type HubToWriter =
  | { type: 'open'; settings: WriterSettings }
  /** node rows (transferred); answered by `committed` or `failed` with the same batch */
  | { type: 'write'; batch: number; rows: EncodedRows }
  /** run the retention cleanup now (tests and operators; the timer does it on its own too) */
  | { type: 'cleanup' }
  /** commit what is queued, checkpoint the WAL, close the database, then say `closed` */
  | { type: 'close' }
  /** fault injection, for the fault tests: nothing in the master sends it */
  | { type: 'fault'; fault: WriterFault }

/** writer → main thread */
export type WriterToHub =
  | { type: 'ready' }
  /**
   * `rows` committed in one transaction that took `ms`; `stored[i]`: how many of batch i's node
   * snapshots changed something (one not newer than its node's stored snapshot changes nothing)
   */
  | { type: 'committed'; batches: number[]; stored: number[]; rows: number; ms: number }
  | { type: 'failed'; batches: number[]; message: string }
  /** what a retention cleanup deleted: history points per tier, and the nodes gone for longer than RETENTION */
  | ({ type: 'cleaned' } & CleanupResult)
  | { type: 'fatal'; message: string }
  | { type: 'closed' }
