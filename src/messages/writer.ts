/** The channel between the DataHub actor on the main thread and the writer Worker. */

export interface WriterSettings {
  dbPath: string
  sampleIntervalMs: number
  retentionMs: number
  cleanupIntervalMs: number
}

/** main thread → writer */
export type HubToWriter =
  | { type: 'open'; settings: WriterSettings }
  /** node rows encoded by storage/node-rows; answered by `committed` or `failed` with the same batch */
  | { type: 'write'; batch: number; rows: string }
  /** run the retention cleanup now (tests and operators; the timer does it on its own too) */
  | { type: 'cleanup' }
  /** commit what is queued, checkpoint the WAL, close the database, then say `closed` */
  | { type: 'close' }

/** writer → main thread */
export type WriterToHub =
  | { type: 'ready' }
  | { type: 'committed'; batches: number[] }
  | { type: 'failed'; batches: number[]; message: string }
  | { type: 'cleaned'; deleted: number }
  | { type: 'fatal'; message: string }
  | { type: 'closed' }
