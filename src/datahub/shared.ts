/**
 * The DataHub's state shared with other masters (REDIS_URL; redis-state.ts). Without it a DataHub
 * knows only the agents that posted to its own master.
 *
 * Nodes' last-seen times are not part of it: each is the node's `received_ms` in the store's latest
 * table, which masters sharing one store (DATABASE_URL) read alike.
 *
 * The DataHub stays an actor: it asks, and what comes back arrives later as a `SharedEvent` it
 * handles like any other message. Nothing here ever waits for the DataHub, nor it for this.
 */

/** What every master knows of a cluster: the fields of the gateway's ClusterView that agents set. */
export interface SharedView {
  /** when the newest snapshot any master committed arrived (epoch ms, that master's clock) */
  snapshotMs?: number
  /** the `origin` of the master that committed it */
  snapshotFrom?: string
  /** the agent's last heartbeat to any master (epoch ms) */
  heartbeatMs?: number
  /** the agent's posting interval, smoothed over the snapshots committed by every master */
  observedIntervalMs?: number
}

export type SharedEvent =
  /** clusters' shared views: the answer to this master's update, or another master's, as published */
  | { type: 'views'; views: [clusterId: string, view: SharedView][] }
  /**
   * Every cluster's shared view, read at (re)connection: what was published while this master was
   * not listening. The DataHub takes it, then shares what it holds newer (`restore`).
   */
  | { type: 'synced'; views: Map<string, SharedView> }
  /** the answer to `envelope`: the newest envelope in the shared state; none when it holds none or cannot be reached */
  | { type: 'envelope'; request: number; clusterId: string; envelope?: Uint8Array; gzipped?: boolean }

export interface SharedState {
  /** this master's name in the shared state: the order of two snapshots received in the same millisecond */
  readonly origin: string
  /**
   * A snapshot this master committed; the shared state keeps it if it is the newest, and publishes
   * the view. The interval is measured in the shared state; `observedIntervalMs` (this master's
   * measure) stands in when a snapshot of the cluster was skipped (held back behind a slow Redis).
   */
  commit(clusterId: string, envelope: Uint8Array, receivedMs: number, observedIntervalMs: number | undefined): void
  /** As `commit`, with the interval this master observed instead of one measured from the shared previous snapshot: after an outage. */
  restore(clusterId: string, envelope: Uint8Array, receivedMs: number, observedIntervalMs: number | undefined): void
  heartbeat(clusterId: string, atMs: number): void
  /** Asks for the newest envelope of a cluster; answered by an `envelope` event with the same request. */
  envelope(request: number, clusterId: string): void
}

/**
 * A snapshot's place in the order every master agrees on: its receive time, then, for two received
 * in the same millisecond by two masters, the greater origin. Without that tie-break each master
 * would keep serving its own.
 */
export interface SnapshotMark {
  receivedMs: number
  from: string
}

/** > 0 when `a` is the newer (any mark is newer than none), 0 when they are the same. */
export function compareMarks(a: SnapshotMark | undefined, b: SnapshotMark | undefined): number {
  if (!a || !b) return (a ? 1 : 0) - (b ? 1 : 0)
  if (a.receivedMs !== b.receivedMs) return a.receivedMs - b.receivedMs
  return a.from === b.from ? 0 : a.from > b.from ? 1 : -1
}

/** The mark of a view's snapshot, if it has one. */
export const viewMark = (view: SharedView | undefined): SnapshotMark | undefined =>
  view?.snapshotMs === undefined ? undefined : { receivedMs: view.snapshotMs, from: view.snapshotFrom ?? '' }
