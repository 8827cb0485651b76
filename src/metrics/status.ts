import type { DataHub } from '../datahub/datahub'

/** A node is stale at the earliest after this long without a snapshot, whatever its agent's pace. */
export const MIN_STALE_AFTER_MS = 15_000

export interface StatusSettings {
  /** STALE_AFTER; unset: 3 × the agent's observed interval, at least 15 s */
  staleAfterMs: number | undefined
  /** AGENT_EXPIRE: an agent is offline after this long without a snapshot or heartbeat */
  agentExpireMs: number
}

export type NodeStatus = 'online' | 'stale'

/**
 * Whether nodes and agents are still reporting. It goes by when the master received a node's
 * newest snapshot (a re-sent old one does not count), which the DataHub knows; for a node it has
 * not heard from since a restart, by the snapshot's own timestamp.
 */
export class FleetStatus {
  constructor(
    private readonly hub: DataHub,
    private readonly settings: StatusSettings,
  ) {}

  staleAfterMs(clusterId: string): number {
    if (this.settings.staleAfterMs !== undefined) return this.settings.staleAfterMs
    return Math.max(MIN_STALE_AFTER_MS, 3 * (this.hub.cluster(clusterId)?.observedIntervalMs ?? 0))
  }

  /** A function giving each node of the cluster its status, for one answer. */
  nodeStatus(clusterId: string, now = Date.now()): (node: string, snapshotTs: number) => NodeStatus {
    const staleAfter = this.staleAfterMs(clusterId)
    const seen = this.hub.cluster(clusterId)?.nodesSeen
    return (node, snapshotTs) => (now - (seen?.get(node)?.receivedAt ?? snapshotTs) > staleAfter ? 'stale' : 'online')
  }

  agentOnline(clusterId: string, now = Date.now()): boolean {
    const state = this.hub.cluster(clusterId)
    const last = Math.max(state?.snapshot?.receivedAt ?? 0, state?.lastHeartbeat ?? 0)
    return now - last <= this.settings.agentExpireMs
  }
}
