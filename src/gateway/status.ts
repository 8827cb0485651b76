import type { Static } from 'elysia'
import type { NodeStatus as NodeStatusSchema } from '../model/summary'
import type { ClusterDirectory } from './directory'

/** A node is stale at the earliest after this long without a snapshot, whatever its agent's pace. */
export const MIN_STALE_AFTER_MS = 15_000

export interface StatusSettings {
  /** STALE_AFTER; unset: 3 × the agent's observed interval, at least 15 s */
  staleAfterMs: number | undefined
  /** AGENT_EXPIRE: an agent is offline after this long without a snapshot or heartbeat */
  agentExpireMs: number
}

export type NodeStatus = Static<typeof NodeStatusSchema>

/**
 * Whether nodes and agents are still reporting, by the master's clock only: a node goes by when
 * the master received its newest stored snapshot (a re-sent old one changes nothing, so it does
 * not count), never by the agent's clock, which may lag or run ahead.
 */
export class FleetStatus {
  constructor(
    private readonly clusters: ClusterDirectory,
    private readonly settings: StatusSettings,
  ) {}

  staleAfterMs(clusterId: string): number {
    if (this.settings.staleAfterMs !== undefined) return this.settings.staleAfterMs
    return Math.max(MIN_STALE_AFTER_MS, 3 * (this.clusters.get(clusterId)?.observedIntervalMs ?? 0))
  }

  /** A function giving each node of the cluster its status from when its snapshot was received, for one answer. */
  nodeStatus(clusterId: string, now = Date.now()): (receivedMs: number) => NodeStatus {
    const staleAfter = this.staleAfterMs(clusterId)
    return (receivedMs) => (now - receivedMs > staleAfter ? 'stale' : 'online')
  }

  agentOnline(clusterId: string, now = Date.now()): boolean {
    const view = this.clusters.get(clusterId)
    const last = Math.max(view?.snapshotMs ?? 0, view?.heartbeatMs ?? 0)
    return now - last <= this.settings.agentExpireMs
  }
}
