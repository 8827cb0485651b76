import type { EncodedRows } from '../storage/node-rows'
import type { IngestSettings } from './app'

/**
 * The channel between each ingest thread and the DataHub actor on the main thread.
 * Bulky data travels as strings or transferred buffers, never as object graphs to clone.
 */

/** ingest thread → main thread */
export type IngestToHub =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | {
      type: 'snapshot'
      /** the ingest thread's id for the waiting request */
      request: number
      clusterId: string
      receivedMs: number
      /** the body as the agent sent it, still gzipped if it came so (transferred) */
      envelope: Uint8Array
      gzipped: boolean
      /** the node rows (transferred) */
      rows: EncodedRows
      nodes: number
    }
  /** answered by `answer` under the same request numbering as snapshots: the DataHub may refuse a new cluster */
  | { type: 'heartbeat'; request: number; clusterId: string; at: number }
  /** a snapshot was answered 200 (a commit whose request was abandoned meanwhile is not) */
  | { type: 'acknowledged' }
  /** an agent closed its connection mid-upload: logged by the master, one line per burst over all threads */
  | { type: 'aborted' }
  /** requests answered with an error since the last report, by error code */
  | { type: 'rejections'; counts: Record<string, number> }
  /** figures left out of acknowledged snapshots since the last report: field → reason → count */
  | { type: 'dropped'; counts: Record<string, Record<string, number>> }
  /** HTTP requests this thread received since the last report (how the kernel spreads agents over the threads) */
  | { type: 'requests'; count: number }
  | { type: 'stopped' }

/** main thread → ingest thread */
export type HubToIngest =
  | ({
      type: 'start'
      host: string
      port: number
      /** this thread's index among the INGEST_THREADS that share the port */
      thread: number
      /** MAX_INFLIGHT_BYTES's counters, shared by all ingest threads (inflight.ts) */
      inflightMemory: SharedArrayBuffer
      /** act on fault-injection messages (src/faults): the tests only */
      faultHooks?: boolean
    } & IngestSettings)
  /**
   * the snapshot is committed (ok; `stored` of its node snapshots changed something) or the
   * heartbeat recorded, or it could not be: the agent gets `status` (default 503) with `code`
   * (default `unavailable`), the message and Retry-After
   */
  | {
      type: 'answer'
      request: number
      ok: boolean
      message?: string
      retryAfterSeconds?: number
      stored?: number
      /** the refusal's HTTP status, e.g. 429 */
      status?: number
      /** the refusal's error code, e.g. `too_many_clusters` */
      code?: string
    }
  /** stop accepting; answer what is in flight; then say stopped */
  | { type: 'stop' }

