import type { HubToIngest, IngestToHub } from '../messages/ingest'
import type { HubToWriter, WriterToHub } from '../messages/writer'

/** What the DataHub knows of one cluster: its newest envelope as it came, and its agent. */
export interface ClusterState {
  snapshot?: {
    /** the envelope as the agent sent it */
    envelope: string
    /** when it arrived (epoch ms) */
    receivedAt: number
    /** its node rows (storage/node-rows), re-sent if the writer restarts */
    rows: string
    nodes: number
  }
  /** the agent's last heartbeat (epoch ms) */
  lastHeartbeat?: number
}

export interface HubPorts {
  toIngest(message: HubToIngest): void
  /** false when the writer is down and nothing was posted */
  toWriter(message: HubToWriter): boolean
}

/**
 * The DataHub actor (main thread). It owns the newest state of every cluster and the list of
 * agents waiting for their commit, and talks to the other threads only through messages.
 */
export class DataHub {
  private readonly clusters = new Map<string, ClusterState>()
  /** writer batch → the ingest request waiting for it */
  private readonly waiting = new Map<number, number>()
  private nextBatch = 1

  constructor(private readonly ports: HubPorts) {}

  get clusterCount(): number {
    return this.clusters.size
  }

  get pendingWrites(): number {
    return this.waiting.size
  }

  cluster(clusterId: string): Readonly<ClusterState> | undefined {
    return this.clusters.get(clusterId)
  }

  onIngest(message: IngestToHub): void {
    switch (message.type) {
      case 'snapshot': {
        const { envelope, receivedAt, rows, nodes } = message
        this.state(message.clusterId).snapshot = { envelope, receivedAt, rows, nodes }
        const batch = this.nextBatch++
        if (!this.ports.toWriter({ type: 'write', batch, rows: message.rows })) {
          return this.answer(message.request, false, 'the storage writer is restarting; retry shortly')
        }
        this.waiting.set(batch, message.request)
        return
      }
      case 'heartbeat': {
        this.state(message.clusterId).lastHeartbeat = message.at
        return
      }
    }
  }

  onWriter(message: WriterToHub): void {
    switch (message.type) {
      case 'committed':
        for (const batch of message.batches) this.settle(batch, true)
        return
      case 'failed':
        console.error(`write failed: ${message.message}`)
        for (const batch of message.batches) this.settle(batch, false, 'the snapshot could not be stored; retry')
        return
    }
  }

  /** The writer died: whatever it had not confirmed is answered 503, never 200. */
  onWriterDown(): void {
    for (const batch of [...this.waiting.keys()]) this.settle(batch, false, 'the storage writer failed; retry')
  }

  /** A new writer is up: hand it the newest node metrics held here, which it may not have committed. */
  onWriterRestarted(): void {
    for (const { snapshot } of this.clusters.values()) {
      if (snapshot && snapshot.nodes > 0) this.ports.toWriter({ type: 'write', batch: this.nextBatch++, rows: snapshot.rows })
    }
  }

  private state(clusterId: string): ClusterState {
    let state = this.clusters.get(clusterId)
    if (!state) this.clusters.set(clusterId, (state = {}))
    return state
  }

  private settle(batch: number, ok: boolean, message?: string): void {
    const request = this.waiting.get(batch)
    if (request === undefined) return
    this.waiting.delete(batch)
    this.answer(request, ok, message)
  }

  private answer(request: number, ok: boolean, message?: string): void {
    this.ports.toIngest({ type: 'answer', request, ok, message })
  }
}
