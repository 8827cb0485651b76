import { gunzipSync } from 'node:zlib'
import { acceptSnapshot, type AcceptSettings } from '../ingest/snapshot'
import type { HubToIngest, IngestToHub } from '../messages/ingest'
import type { HubToWriter, WriterToHub } from '../messages/writer'

/** What the DataHub knows of one cluster: its newest envelope as it came, and its agent. */
export interface ClusterState {
  snapshot?: {
    /**
     * The envelope as the agent sent it, gzipped if it came so: a fleet's newest state is held
     * at the size it crossed the network, not ten times that.
     */
    envelope: Uint8Array
    gzipped: boolean
    /** when it arrived (epoch ms) */
    receivedAt: number
    nodes: number
  }
  /** the agent's last heartbeat (epoch ms) */
  lastHeartbeat?: number
  /**
   * each node's newest snapshot time and when it arrived (epoch ms). AtlHyper's agent re-sends a
   * node's last metrics in every envelope after the node went quiet: only a newer snapshot counts as
   * hearing from the node.
   */
  nodesSeen: Map<string, { snapshotTs: number; receivedAt: number }>
  /** the agent's posting interval as observed (ms, smoothed), once two snapshots came */
  observedIntervalMs?: number
}

export interface HubPorts {
  toIngest(message: HubToIngest): void
  /** false when the writer is down and nothing was posted */
  toWriter(message: HubToWriter): boolean
}

export interface HubSettings {
  /** node rows handed to the writer and not yet confirmed, at most; past it agents get 503 */
  writeQueueLimit: number
  /** how rows are derived again from held envelopes after a writer restart (as the ingest thread does) */
  accept: Omit<AcceptSettings, 'maxClockSkewMs'>
}

interface Waiting {
  request: number
  clusterId: string
  rows: number
}

/**
 * The DataHub actor (main thread). It owns the newest state of every cluster and the list of
 * agents waiting for their commit, and talks to the other threads only through messages.
 * It holds a snapshot only once it has been handed to a live writer with room for it.
 */
export class DataHub {
  private readonly clusters = new Map<string, ClusterState>()
  private readonly waiting = new Map<number, Waiting>()
  private nextBatch = 1
  private queuedRows = 0
  /** bumped per cluster on each commit, and for all on a writer restart: lets readers cache */
  private readonly commits = new Map<string, number>()
  private epoch = 0
  /** batches re-sent after a writer restart, whose commit changes clusters no request names */
  private readonly resent = new Set<number>()
  /** failed writes since the last commit; the first of a burst is logged, the rest counted */
  private failedWrites = 0

  constructor(
    private readonly ports: HubPorts,
    private readonly settings: HubSettings,
  ) {}

  get clusterCount(): number {
    return this.clusters.size
  }

  /** Every cluster the DataHub knows, with its state. */
  allClusters(): IterableIterator<[string, Readonly<ClusterState>]> {
    return this.clusters.entries()
  }

  /** node rows the writer has not confirmed yet */
  get writeQueueRows(): number {
    return this.queuedRows
  }

  cluster(clusterId: string): Readonly<ClusterState> | undefined {
    return this.clusters.get(clusterId)
  }

  /** Changes whenever the stored data of the cluster may have changed. */
  dataVersion(clusterId: string): string {
    return `${this.epoch}:${this.commits.get(clusterId) ?? 0}`
  }

  /** The newest envelope of a cluster as JSON text, as the agent sent it. */
  envelopeText(clusterId: string): string | undefined {
    const bytes = this.envelopeBytes(clusterId)
    return bytes && new TextDecoder().decode(bytes)
  }

  private envelopeBytes(clusterId: string): Uint8Array | undefined {
    const snapshot = this.clusters.get(clusterId)?.snapshot
    if (!snapshot) return undefined
    return snapshot.gzipped ? gunzipSync(snapshot.envelope) : snapshot.envelope
  }

  onIngest(message: IngestToHub): void {
    switch (message.type) {
      case 'snapshot':
        return this.onSnapshot(message)
      case 'heartbeat':
        this.state(message.clusterId).lastHeartbeat = message.at
        this.ports.toIngest({ type: 'answer', request: message.request, ok: true })
        return
    }
  }

  onWriter(message: WriterToHub): void {
    switch (message.type) {
      case 'committed':
        if (this.failedWrites > 0) console.warn(`storage recovered after ${this.failedWrites} failed write(s)`)
        this.failedWrites = 0
        message.batches.forEach((batch, index) => {
          if (this.resent.delete(batch)) this.epoch++
          this.settle(batch, true, undefined, message.stored[index])
        })
        return
      case 'failed':
        if (this.failedWrites++ === 0) console.error(`storage write failed (further failures are counted): ${message.message}`)
        for (const batch of message.batches) this.settle(batch, false, 'the snapshot could not be stored; retry')
        return
    }
  }

  /** The writer died: whatever it had not confirmed is answered 503, never 200. */
  onWriterDown(): void {
    for (const batch of [...this.waiting.keys()]) this.settle(batch, false, 'the storage writer failed; retry')
  }

  /**
   * A new writer is up: hand it the newest node metrics held here, which it may not have
   * committed. They are derived again from the envelopes (already validated once), which costs
   * main-thread time only on this rare event and no memory the rest of the time.
   */
  onWriterRestarted(): void {
    this.epoch++
    for (const [clusterId, { snapshot }] of this.clusters) {
      if (!snapshot || snapshot.nodes === 0) continue
      const bytes = this.envelopeBytes(clusterId)!
      let rows
      try {
        ;({ rows } = acceptSnapshot({ text: new TextDecoder().decode(bytes), bytes }, clusterId, { ...this.settings.accept, maxClockSkewMs: Infinity }))
      } catch (error) {
        // It was accepted once; should the rules have changed under it, one cluster's re-send is not worth the master.
        console.error(`re-sending cluster ${clusterId} after a writer restart failed: ${(error as Error).message}`)
        continue
      }
      const batch = this.nextBatch++
      if (this.ports.toWriter({ type: 'write', batch, rows })) this.resent.add(batch)
    }
  }

  private onSnapshot(message: Extract<IngestToHub, { type: 'snapshot' }>): void {
    const { request, envelope, gzipped, receivedAt, rows, nodes, nodeNames, nodeTimestamps } = message
    // A snapshot bigger than the whole queue is still taken when the queue is empty.
    if (this.queuedRows > 0 && this.queuedRows + nodes > this.settings.writeQueueLimit) {
      return this.answer(request, false, 'the master is behind on writes; retry later', 2)
    }
    const batch = this.nextBatch++
    if (!this.ports.toWriter({ type: 'write', batch, rows })) {
      return this.answer(request, false, 'the storage writer is restarting; retry shortly')
    }
    this.waiting.set(batch, { request, clusterId: message.clusterId, rows: nodes })
    this.queuedRows += nodes
    const state = this.state(message.clusterId)
    if (state.snapshot) {
      const interval = receivedAt - state.snapshot.receivedAt
      // Smoothed, so one late or doubled post does not swing the stale threshold.
      state.observedIntervalMs = state.observedIntervalMs === undefined ? interval : 0.8 * state.observedIntervalMs + 0.2 * interval
    }
    state.snapshot = { envelope, gzipped, receivedAt, nodes }
    if (nodeNames) {
      nodeNames.split('\n').forEach((node, index) => {
        const snapshotTs = nodeTimestamps[index] ?? 0
        const seen = state.nodesSeen.get(node)
        if (seen && snapshotTs <= seen.snapshotTs) return
        // First heard of since the start: it may be an old snapshot re-sent, so it counts from its own
        // time, not from its arrival (a node that went quiet before a restart stays stale after it).
        state.nodesSeen.set(node, { snapshotTs, receivedAt: seen ? receivedAt : Math.min(receivedAt, snapshotTs) })
      })
    }
  }

  private settle(batch: number, ok: boolean, message?: string, stored?: number): void {
    const waiting = this.waiting.get(batch)
    if (waiting === undefined) return
    this.waiting.delete(batch)
    this.queuedRows -= waiting.rows
    // Even a failed write may have changed nothing or everything: readers re-read either way.
    this.commits.set(waiting.clusterId, (this.commits.get(waiting.clusterId) ?? 0) + 1)
    this.answer(waiting.request, ok, message, undefined, stored)
  }

  private answer(request: number, ok: boolean, message?: string, retryAfterSeconds?: number, stored?: number): void {
    this.ports.toIngest({ type: 'answer', request, ok, message, retryAfterSeconds, stored })
  }

  private state(clusterId: string): ClusterState {
    let state = this.clusters.get(clusterId)
    if (!state) this.clusters.set(clusterId, (state = { nodesSeen: new Map() }))
    return state
  }
}
