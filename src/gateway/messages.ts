import type { AlertsStatus } from '../alerts/messages'
import type { Health } from '../model'
import type { AlertRulesDocument } from '../model/alerts'
import type { StoreLocation } from '../storage/store'
import type { Tier } from '../storage/tiers'

/**
 * The channel between the DataHub (main thread) and the gateway Worker. The gateway reads the
 * database itself; what only the DataHub knows — when it last heard from each agent, how often
 * that agent posts, whether the writer is healthy, what the master has counted — it is told as it
 * changes, so a query never waits on the DataHub's thread. Only the newest envelope of a cluster
 * is asked for, when a client wants it.
 */

export interface GatewaySettings {
  host: string
  port: number
  /** read from DATABASE_READ_URL when it is set */
  store: StoreLocation
  tiers: Tier[]
  /** STALE_AFTER; undefined: 3 × the agent's observed interval, at least 15 s */
  staleAfterMs: number | undefined
  agentExpireMs: number
  apiTokens: string[]
  corsOrigins: string[]
  /** where agents post, for the agent routes' documentation */
  ingestUrl: string
  /** GATEWAY_NICE: the gateway thread's nice value (0: the process's own) */
  nice: number
  /** ALERT_DB: the alerts actor's file, read for alerts, their history and the rules in force */
  alertDbPath: string
  /** act on fault-injection messages (src/faults): the tests only */
  faultHooks?: boolean
}

/** What the gateway knows of a cluster; the DataHub sends it again whenever it changes. */
export interface ClusterView {
  /** when the DataHub last committed a snapshot of the cluster (epoch ms, server time) */
  snapshotMs?: number
  /** when the agent last sent a heartbeat (epoch ms, server time) */
  heartbeatMs?: number
  /** the agent's posting interval as observed (ms, smoothed) */
  observedIntervalMs?: number
  /** changes whenever the cluster's stored node list may have changed: lets the gateway cache */
  version: number
}

export type WriterHealth = { state: 'up' } | { state: Exclude<Health['writer'], 'up'>; reason: string }

/** What the master counts, for /metrics. */
export type MasterEvent =
  /** snapshots acknowledged to their agents (200) */
  | { kind: 'acknowledged'; snapshots: number }
  | { kind: 'rejected'; counts: Record<string, number> }
  | { kind: 'dropped'; counts: Record<string, Record<string, number>> }
  | { kind: 'committed'; rows: number; ms: number }
  | { kind: 'write-failed'; batches: number }
  | { kind: 'cleaned'; points: Record<string, number>; nodes: number }
  | { kind: 'compacted'; points: Record<string, number> }
  | { kind: 'queue'; rows: number }
  /** HTTP requests ingest thread `thread` received since its last report */
  | { kind: 'ingest-requests'; thread: number; requests: number }

/** main thread → gateway */
export type HubToGateway =
  | { type: 'start'; settings: GatewaySettings }
  /** clusters whose view changed; null: the cluster is gone (evicted) */
  | { type: 'clusters'; views: [clusterId: string, view: ClusterView | null][] }
  | { type: 'writer'; health: WriterHealth }
  | { type: 'event'; event: MasterEvent }
  /** the answer to `envelope`: the newest envelope as the agent sent it (gzipped if it came so), or none */
  | { type: 'envelope'; request: number; envelope?: Uint8Array; gzipped?: boolean }
  /** the alerts actor's answer to `set-rules`: the rules are in force, or why not */
  | { type: 'rules-set'; request: number; error?: string }
  /** the alerts' figures for /metrics */
  | { type: 'alerts'; status: AlertsStatus }
  /** stop accepting, answer what is in flight, close idle connections, then say stopped */
  | { type: 'stop' }

/** gateway → main thread */
export type GatewayToHub =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'envelope'; request: number; clusterId: string }
  /** PUT /api/v2/alert-rules, checked: for the alerts actor, which answers `rules-set` */
  | { type: 'set-rules'; request: number; document: AlertRulesDocument }
  | { type: 'stopped' }
