import { gunzipSync } from 'node:zlib'
import type { HubToIngest, IngestToHub } from '../ingest/messages'
import type { HubToWriter, WriterToHub } from '../writer/messages'
import type { ClusterView, GatewayToHub, HubToGateway, MasterEvent, WriterHealth } from '../gateway/messages'
import type { AlertsStatus, AlertsToHub, HubToAlerts } from '../alerts/messages'
import { admit } from './admission'
import { compareMarks, viewMark, type SharedEvent, type SharedState, type SharedView, type SnapshotMark } from './shared'

/** The newest envelope of a cluster, as the agent sent it. */
interface HeldEnvelope {
  /** gzipped if it came so: a fleet's newest state is held at the size it crossed the network */
  envelope: Uint8Array
  gzipped: boolean
  /** when it arrived (epoch ms) */
  receivedMs: number
  nodes: number
}

/** What the DataHub knows of one cluster. Everything but `queuedRows` changes only on a commit or a heartbeat (with REDIS_URL, another master's too). */
export interface ClusterState {
  /** the newest envelope whose node metrics this master committed */
  snapshot?: HeldEnvelope
  /** the newest snapshot the shared state reported (REDIS_URL): another master's when it is newer than ours */
  sharedSnapshot?: SnapshotMark
  /** the agent's last heartbeat (epoch ms) */
  lastHeartbeatMs?: number
  /** the agent's posting interval as observed (ms, smoothed), once two snapshots were committed */
  observedIntervalMs?: number
  /** node rows handed to the writer and not confirmed yet */
  queuedRows: number
  /** bumped whenever the cluster's stored node list may have changed */
  version: number
  /** when the DataHub first admitted anything of the cluster (epoch ms): a cluster that never committed ages from it */
  createdAt: number
}

export interface HubPorts {
  /** to ingest thread `thread` (INGEST_THREADS share the port; an answer goes to the thread holding its request) */
  toIngest(thread: number, message: HubToIngest): void
  /** false when the writer is down and nothing was posted */
  toWriter(message: HubToWriter): boolean
  toGateway(message: HubToGateway): void
  /** to the alerts actor: committed samples and cluster views, to judge; rules from the API */
  toAlerts?(message: HubToAlerts): void
  /** the state shared with other masters (REDIS_URL); its answers come back to `onShared` */
  shared?: SharedState
}

export interface HubSettings {
  /** node rows handed to the writer and not yet confirmed, at most (shared fairly, see admission.ts) */
  writeQueueLimit: number
  /** MAX_CLUSTERS: clusters the DataHub keeps state for */
  maxClusters: number
  /** RETENTION: a cluster silent (no snapshot, no heartbeat) for this long is forgotten */
  retentionMs: number
  /** AGENT_EXPIRE: at MAX_CLUSTERS, a cluster only ever heard of by heartbeats whose agent is offline makes room */
  agentExpireMs: number
  /** the wall clock (epoch ms): eviction, heartbeats */
  now?: () => number
  /** a clock that never steps (ms): how long the writer has held a batch; tests inject both */
  monotonic?: () => number
}

/** A request of one ingest thread: request numbers repeat across threads, never within one. */
interface Asker {
  thread: number
  request: number
}

/** An ingest request waiting for its commit, and what its snapshot will change once committed. */
interface Waiting {
  /** the ingest request to answer; undefined once the ingest thread that asked is gone */
  request?: number
  /** the ingest thread that holds the request: each numbers its requests on its own */
  thread: number
  clusterId: string
  rows: number
  withinShare: boolean
  arrival: HeldEnvelope
  /** the rows' figures (the encoded rows' header): judged by the alerts actor once committed */
  header: string
  /** when it was handed to the writer (the monotonic clock) */
  sentAt: number
}

/** A writer that has not confirmed the oldest batch it holds for this long is reported stalled. */
export const WRITER_STALL_MS = 30_000

/**
 * The DataHub actor (main thread). It owns the newest committed state of every cluster and the
 * agents waiting for their commit, and talks to the other threads only through messages.
 *
 * Nothing a snapshot says is believed before the writer confirms it: the envelope, the agent's
 * pace and the cluster's data version change on `committed`, so the API never shows as current
 * what the disk refused. A snapshot answered 503 is forgotten; the agent's retry is the only way
 * it can still be stored.
 */
export class DataHub {
  private readonly clusters = new Map<string, ClusterState>()
  private readonly waiting = new Map<number, Waiting>()
  private nextBatch = 1
  private queuedRows = 0
  /** of those, the rows admitted within their cluster's fair share (admission.ts) */
  private withinShareRows = 0
  private activeClusters = 0
  /** failed writes since the last commit; the first of a burst is logged, the rest counted */
  private failedWrites = 0
  private writer: WriterHealth = { state: 'up' }
  /** clusters whose view the gateway has not been sent yet; sent once per turn */
  private readonly dirty = new Set<string>()
  private flushScheduled = false
  /** snapshots the ingest threads answered 200 since the last flush, and the queue length the gateway last heard */
  private acknowledged = 0
  private queueSent = 0
  private readonly now: () => number
  private readonly monotonic: () => number
  private versions = 0
  /** the alerts actor's latest figures for /metrics, sent again to a new gateway */
  private alertsStatus: AlertsStatus | undefined

  constructor(
    private readonly ports: HubPorts,
    private readonly settings: HubSettings,
  ) {
    this.now = settings.now ?? Date.now
    this.monotonic = settings.monotonic ?? (() => performance.now())
  }

  get clusterCount(): number {
    return this.clusters.size
  }

  cluster(clusterId: string): Readonly<ClusterState> | undefined {
    return this.clusters.get(clusterId)
  }

  /** node rows the writer has not confirmed yet */
  get writeQueueRows(): number {
    return this.queuedRows
  }

  /** ingest requests (and re-numbered orphans) still waiting for the writer */
  get waitingBatches(): number {
    return this.waiting.size
  }

  /** The newest committed envelope of a cluster as JSON text, as the agent sent it. */
  envelopeText(clusterId: string): string | undefined {
    const snapshot = this.clusters.get(clusterId)?.snapshot
    if (!snapshot) return undefined
    return new TextDecoder().decode(snapshot.gzipped ? gunzipSync(snapshot.envelope) : snapshot.envelope)
  }

  /** A message of ingest thread `thread` (0 to INGEST_THREADS − 1). */
  onIngest(message: IngestToHub, thread = 0): void {
    switch (message.type) {
      case 'snapshot':
        return this.onSnapshot(message, thread)
      case 'heartbeat':
        return this.onHeartbeat(message, thread)
      case 'acknowledged':
        this.acknowledged++
        return this.scheduleFlush()
      case 'rejections':
        return this.count({ kind: 'rejected', counts: message.counts })
      case 'dropped':
        return this.count({ kind: 'dropped', counts: message.counts })
      case 'requests':
        return this.count({ kind: 'ingest-requests', thread, requests: message.count })
    }
  }

  onGateway(message: GatewayToHub): void {
    if (message.type === 'set-rules') return this.ports.toAlerts?.(message)
    if (message.type !== 'envelope') return
    const state = this.clusters.get(message.clusterId)
    // Another master committed a newer snapshot than ours: its bytes are in the shared state.
    if (this.ports.shared && state && this.sharedIsNewer(state)) return this.ports.shared.envelope(message.request, message.clusterId)
    this.sendEnvelope(message.request, state?.snapshot)
  }

  /** The alerts actor's answers and figures go on to the gateway. */
  onAlerts(message: Exclude<AlertsToHub, { type: 'ready' | 'failed' | 'stopped' }>): void {
    if (message.type === 'status') this.alertsStatus = message.status
    this.ports.toGateway(message.type === 'status' ? { type: 'alerts', status: message.status } : message)
  }

  /** What the state shared with other masters (REDIS_URL) answered or published. */
  onShared(event: SharedEvent): void {
    switch (event.type) {
      case 'views':
        for (const [clusterId, view] of event.views) this.applyShared(clusterId, view)
        return
      case 'synced':
        return this.onSynced(event.views)
      case 'envelope': {
        const state = this.clusters.get(event.clusterId)
        // Ours when the shared state has none (expired, or Redis unreachable: ours may be older then) or ours is the newest by now.
        if (!event.envelope || !state || !this.sharedIsNewer(state)) return this.sendEnvelope(event.request, state?.snapshot)
        return this.ports.toGateway({ type: 'envelope', request: event.request, envelope: event.envelope, gzipped: event.gzipped })
      }
    }
  }

  onWriter(message: WriterToHub): void {
    switch (message.type) {
      case 'committed':
        if (this.failedWrites > 0) console.warn(`storage recovered after ${this.failedWrites} failed write(s)`)
        this.failedWrites = 0
        this.setWriter({ state: 'up' })
        this.count({ kind: 'committed', rows: message.rows, ms: message.ms })
        message.batches.forEach((batch, index) => this.settle(batch, true, undefined, message.stored[index]))
        return
      case 'failed':
        if (this.failedWrites++ === 0) console.error(`storage write failed (further failures are counted): ${message.message}`)
        this.setWriter({ state: 'failing', reason: `writes fail: ${message.message}` })
        this.count({ kind: 'write-failed', batches: message.batches.length })
        for (const batch of message.batches) this.settle(batch, false, 'the snapshot could not be stored; retry')
        return
      case 'unconfirmed':
        this.setWriter({ state: 'stalled', reason: message.message })
        for (const batch of message.batches) this.unconfirmed(batch, message.message)
        return
      case 'compacted':
        // Chunks answer exactly what their rows did: no cached answer changes.
        return this.count({ kind: 'compacted', points: message.points })
      case 'cleaned':
        this.count({ kind: 'cleaned', points: message.points, nodes: message.nodes })
        for (const { cluster } of message.removed) this.touch(cluster)
        this.evictSilent()
        return
    }
  }

  /**
   * The writer died: whatever it had not confirmed is answered 503, never 200. It may have
   * committed some of it before dying, so what readers cached of those clusters is dropped.
   */
  onWriterDown(reason: string): void {
    this.setWriter({ state: 'down', reason })
    const clusters = new Set([...this.waiting.values()].map((waiting) => waiting.clusterId))
    for (const batch of [...this.waiting.keys()]) this.settle(batch, false, 'the storage writer failed; retry')
    for (const clusterId of clusters) this.touch(clusterId)
  }

  /**
   * Called every second: a writer that holds a batch unconfirmed for WRITER_STALL_MS (a
   * transaction that hangs) is reported, so /healthz says so while agents wait.
   */
  checkStall(): void {
    const oldest = this.waiting.values().next().value
    const stalledMs = oldest ? this.monotonic() - oldest.sentAt : 0
    if (stalledMs >= WRITER_STALL_MS) {
      this.setWriter({ state: 'stalled', reason: `the writer has confirmed nothing for ${Math.round(stalledMs / 1000)} s` })
    } else if (this.writer.state === 'stalled') {
      this.setWriter({ state: 'up' })
    }
  }

  /** A (new) writer is up. Nothing is re-sent: whatever the old one had not confirmed was answered 503. */
  onWriterUp(): void {
    if (this.writer.state === 'down') this.setWriter({ state: 'up' })
  }

  /**
   * Ingest thread `thread` died. Its successor numbers its requests from 1 again, so the dead one's
   * waiting entries must not answer them: they stay (their commit still counts) but answer no one.
   * The other threads' requests are theirs still.
   */
  onIngestLost(thread: number): void {
    for (const waiting of this.waiting.values()) if (waiting.thread === thread) waiting.request = undefined
  }

  /** A new gateway knows nothing yet: send it every cluster and the writer's health. */
  resendState(): void {
    for (const clusterId of this.clusters.keys()) this.dirty.add(clusterId)
    this.ports.toGateway({ type: 'writer', health: this.writer })
    if (this.alertsStatus) this.ports.toGateway({ type: 'alerts', status: this.alertsStatus })
    this.queueSent = -1
    this.scheduleFlush()
  }

  /** This master's newest snapshot of the cluster in the order every master agrees on. */
  private ownMark(state: ClusterState): SnapshotMark | undefined {
    return state.snapshot && { receivedMs: state.snapshot.receivedMs, from: this.ports.shared?.origin ?? '' }
  }

  private newestMark(state: ClusterState): SnapshotMark | undefined {
    const own = this.ownMark(state)
    return compareMarks(state.sharedSnapshot, own) > 0 ? state.sharedSnapshot : own
  }

  /** Whether the newest envelope of the cluster is another master's (in the shared state), not the one held here. */
  private sharedIsNewer(state: ClusterState): boolean {
    return compareMarks(state.sharedSnapshot, this.ownMark(state)) > 0
  }

  private sendEnvelope(request: number, snapshot: HeldEnvelope | undefined): void {
    // A copy crosses to the gateway (the held one stays); it is the compressed size, usually small.
    this.ports.toGateway({ type: 'envelope', request, envelope: snapshot?.envelope.slice(), gzipped: snapshot?.gzipped })
  }

  /**
   * A cluster's view as the shared state has it. What is newer than this master knows is taken: a
   * later snapshot (the cluster's data changed: caches drop), the interval measured with it, a later
   * heartbeat. An older view (an answer overtaken by another master's publication: they come on two
   * connections) changes nothing; the order of snapshots is the one every master agrees on (SnapshotMark).
   */
  private applyShared(clusterId: string, view: SharedView): void {
    if (view.snapshotMs === undefined && view.heartbeatMs === undefined) return
    if (!this.clusters.has(clusterId) && !this.roomForNewCluster()) return
    const state = this.state(clusterId)
    const mark = viewMark(view)
    const order = compareMarks(mark, this.newestMark(state))
    let dataChanged = false
    let changed = false
    if (mark && order >= 0) {
      state.sharedSnapshot = mark
      dataChanged = order > 0
      if (view.observedIntervalMs !== undefined && view.observedIntervalMs !== state.observedIntervalMs) {
        state.observedIntervalMs = view.observedIntervalMs
        changed = true
      }
    }
    if (view.heartbeatMs !== undefined && view.heartbeatMs > (state.lastHeartbeatMs ?? -Infinity)) {
      state.lastHeartbeatMs = view.heartbeatMs
      changed = true
    }
    if (dataChanged || changed) this.touch(clusterId, dataChanged)
  }

  /**
   * Everything the shared state holds, read at (re)connection. What this master holds newer (it
   * committed or heard it while Redis was out of reach, or before it connected) is shared now; the
   * interval goes as this master measured it, not from the gap of the outage.
   */
  private onSynced(views: Map<string, SharedView>): void {
    for (const [clusterId, view] of views) this.applyShared(clusterId, view)
    const shared = this.ports.shared
    if (!shared) return
    for (const [clusterId, state] of this.clusters) {
      const view = views.get(clusterId)
      const { snapshot, lastHeartbeatMs } = state
      if (snapshot && compareMarks(this.ownMark(state), viewMark(view)) > 0) {
        shared.restore(clusterId, snapshot.envelope, snapshot.receivedMs, state.observedIntervalMs)
      }
      if (lastHeartbeatMs !== undefined && lastHeartbeatMs > (view?.heartbeatMs ?? -Infinity)) shared.heartbeat(clusterId, lastHeartbeatMs)
    }
  }

  private onSnapshot(message: Extract<IngestToHub, { type: 'snapshot' }>, thread: number): void {
    const { request, clusterId, envelope, gzipped, receivedMs, rows, nodes } = message
    const from = { thread, request }
    const existing = this.clusters.get(clusterId)
    const clusterRows = existing?.queuedRows ?? 0
    const queue = { totalRows: this.queuedRows, withinShareRows: this.withinShareRows, activeClusters: this.activeClusters }
    const admission = admit(queue, clusterRows, nodes, this.settings.writeQueueLimit)
    if (!admission) {
      return this.answer(from, { ok: false, message: 'the master is behind on writes; retry later', retryAfterSeconds: 2 })
    }
    // Only a snapshot that would be taken makes another cluster give way.
    if (!existing && !this.roomForNewCluster()) return this.refuseNewCluster(from)
    const batch = this.nextBatch++
    if (!this.ports.toWriter({ type: 'write', batch, rows, receivedMs })) {
      return this.answer(from, { ok: false, message: 'the storage writer is restarting; retry shortly' })
    }
    const state = this.state(clusterId)
    if (state.queuedRows === 0) this.activeClusters++
    state.queuedRows += nodes
    this.queuedRows += nodes
    if (admission === 'within-share') this.withinShareRows += nodes
    this.scheduleFlush()
    this.waiting.set(batch, {
      request, thread, clusterId, rows: nodes, withinShare: admission === 'within-share', arrival: { envelope, gzipped, receivedMs, nodes }, header: rows.header,
      sentAt: this.monotonic(),
    })
  }

  private onHeartbeat(message: Extract<IngestToHub, { type: 'heartbeat' }>, thread: number): void {
    const from = { thread, request: message.request }
    if (!this.clusters.has(message.clusterId) && !this.roomForNewCluster()) return this.refuseNewCluster(from)
    const at = this.now()
    this.state(message.clusterId).lastHeartbeatMs = at
    this.touch(message.clusterId, false)
    // Shared without waiting, as a commit is (see `commit`); the shared view that comes back keeps
    // whichever heartbeat is later, this one or one another master took meanwhile.
    this.ports.shared?.heartbeat(message.clusterId, at)
    this.answer(from, { ok: true })
  }

  /**
   * Whether a new cluster may be kept. At MAX_CLUSTERS a cluster that never had a snapshot stored
   * and whose agent is offline (heartbeats made up by anyone who can reach the port) gives way.
   */
  private roomForNewCluster(): boolean {
    if (this.clusters.size < this.settings.maxClusters) return true
    const offlineSince = this.now() - this.settings.agentExpireMs
    for (const [clusterId, state] of this.clusters) {
      if (newestSnapshotMs(state) !== undefined || state.queuedRows > 0 || (state.lastHeartbeatMs ?? state.createdAt) >= offlineSince) continue
      this.clusters.delete(clusterId)
      this.dirty.add(clusterId)
      this.scheduleFlush()
      return true
    }
    return false
  }

  private refuseNewCluster(from: Asker): void {
    this.answer(from, {
      ok: false,
      status: 429,
      code: 'too_many_clusters',
      message: `the master keeps state for at most ${this.settings.maxClusters} clusters (MAX_CLUSTERS); this one is new`,
      retryAfterSeconds: 60,
    })
  }

  private settle(batch: number, ok: boolean, message?: string, stored?: number): void {
    const waiting = this.waiting.get(batch)
    if (waiting === undefined) return
    this.waiting.delete(batch)
    this.queuedRows -= waiting.rows
    if (waiting.withinShare) this.withinShareRows -= waiting.rows
    this.scheduleFlush()
    const state = this.clusters.get(waiting.clusterId)!
    state.queuedRows -= waiting.rows
    if (state.queuedRows === 0) this.activeClusters--
    if (ok) {
      this.commit(waiting.clusterId, state, waiting.arrival)
      this.ports.toAlerts?.({ type: 'samples', receivedMs: waiting.arrival.receivedMs, header: waiting.header })
    } else if (newestSnapshotMs(state) === undefined && state.lastHeartbeatMs === undefined && state.queuedRows === 0) {
      this.clusters.delete(waiting.clusterId) // nothing of it was ever stored: it leaves no trace
    }
    if (waiting.request !== undefined) this.answer({ thread: waiting.thread, request: waiting.request }, { ok, message, stored })
  }

  /**
   * The agent waiting for `batch` is told now that its snapshot may or may not be stored (504, as at
   * its deadline: sending it again is safe) instead of waiting on a store that does not answer. The
   * batch stays counted until the writer settles it.
   */
  private unconfirmed(batch: number, why: string): void {
    const waiting = this.waiting.get(batch)
    if (waiting?.request === undefined) return
    this.answer({ thread: waiting.thread, request: waiting.request }, {
      ok: false, status: 504, code: 'unconfirmed', retryAfterSeconds: 5, message: `${why}: it may still be stored; sending it again is safe`,
    })
    waiting.request = undefined
  }

  /**
   * The writer confirmed a snapshot: now it is the cluster's state. The interval is measured from
   * the newest snapshot known, this master's or (REDIS_URL) another's, as the shared state does.
   */
  private commit(clusterId: string, state: ClusterState, arrival: HeldEnvelope): void {
    const previous = newestSnapshotMs(state)
    if (previous !== undefined && arrival.receivedMs >= previous) {
      const interval = arrival.receivedMs - previous
      // Smoothed, so one late or doubled post does not swing the stale threshold.
      state.observedIntervalMs = state.observedIntervalMs === undefined ? interval : 0.8 * state.observedIntervalMs + 0.2 * interval
    }
    if (!state.snapshot || arrival.receivedMs >= state.snapshot.receivedMs) state.snapshot = arrival
    this.touch(clusterId)
    // Shared without waiting: the caller answers the agent in this same turn, before Redis has it.
    // The snapshot is durable in the store already, and Redis holds derived, hot state; an agent
    // that waited on it would wait on a second system (and time out and re-post when Redis is
    // slow or gone) for nothing it needs. The price: another master may show it a few
    // milliseconds after the agent's 200, this master's gateway at once.
    this.ports.shared?.commit(clusterId, arrival.envelope, arrival.receivedMs, state.observedIntervalMs)
  }

  /** Forgets clusters silent for RETENTION with nothing queued: their nodes have left the store by now too. */
  private evictSilent(): void {
    const cutoff = this.now() - this.settings.retentionMs
    for (const [clusterId, state] of this.clusters) {
      const last = Math.max(newestSnapshotMs(state) ?? 0, state.lastHeartbeatMs ?? 0, state.createdAt)
      if (last >= cutoff || state.queuedRows > 0) continue
      this.clusters.delete(clusterId)
      this.dirty.add(clusterId)
    }
    this.scheduleFlush()
  }

  private answer({ thread, request }: Asker, answer: Omit<Extract<HubToIngest, { type: 'answer' }>, 'type' | 'request'>): void {
    this.ports.toIngest(thread, { type: 'answer', request, ...answer })
  }

  private state(clusterId: string): ClusterState {
    let state = this.clusters.get(clusterId)
    if (!state) this.clusters.set(clusterId, (state = { queuedRows: 0, version: 0, createdAt: this.now() }))
    return state
  }

  /** The cluster's view changed; `dataChanged` also invalidates what the gateway cached of its node list. */
  private touch(clusterId: string, dataChanged = true): void {
    const state = this.clusters.get(clusterId)
    if (!state) return
    // Versions never repeat, even for a cluster evicted and heard of again: a cached list can never match by chance.
    if (dataChanged) state.version = ++this.versions
    this.dirty.add(clusterId)
    this.scheduleFlush()
  }

  private setWriter(health: WriterHealth): void {
    if (health.state === this.writer.state && (health.state === 'up' || health.reason === (this.writer as { reason: string }).reason)) return
    this.writer = health
    this.ports.toGateway({ type: 'writer', health })
  }

  private count(event: MasterEvent): void {
    this.ports.toGateway({ type: 'event', event })
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(this.flush)
  }

  /**
   * Sends the gateway each changed cluster once per turn, however many snapshots of it committed
   * in the turn, with the turn's acknowledgements and queue length.
   */
  readonly flush = (): void => {
    this.flushScheduled = false
    if (this.acknowledged > 0) this.count({ kind: 'acknowledged', snapshots: this.acknowledged })
    this.acknowledged = 0
    if (this.queueSent !== this.queuedRows) this.count({ kind: 'queue', rows: (this.queueSent = this.queuedRows) })
    if (this.dirty.size === 0) return
    const views: [string, ClusterView | null][] = [...this.dirty].map((clusterId) => [clusterId, this.view(clusterId)])
    this.dirty.clear()
    this.ports.toGateway({ type: 'clusters', views })
    this.ports.toAlerts?.({ type: 'clusters', views })
  }

  private view(clusterId: string): ClusterView | null {
    const state = this.clusters.get(clusterId)
    if (!state) return null
    return {
      snapshotMs: newestSnapshotMs(state),
      heartbeatMs: state.lastHeartbeatMs,
      observedIntervalMs: state.observedIntervalMs,
      version: state.version,
    }
  }
}

/** When the newest snapshot of the cluster known here arrived: this master's, or another's (REDIS_URL). */
function newestSnapshotMs(state: ClusterState): number | undefined {
  const own = state.snapshot?.receivedMs
  const shared = state.sharedSnapshot?.receivedMs
  if (own === undefined || shared === undefined) return own ?? shared
  return Math.max(own, shared)
}
