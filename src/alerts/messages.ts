import type { ClusterView } from '../gateway/messages'
import type { AlertRulesDocument } from '../model/alerts'
import type { NotifyCounts } from './notify/notifier'
import type { ConfiguredRules } from './rules-file'

/** The channel between the DataHub (main thread) and the alerts Worker. */

export interface AlertSettings {
  /** ALERT_DB: the alerts actor's SQLite file */
  dbPath: string
  /** what ALERT_RULES names, read and checked at start */
  configured: ConfiguredRules
  /** STALE_AFTER; undefined: 3 × the agent's observed interval, at least 15 s (as the node list) */
  staleAfterMs: number | undefined
  agentExpireMs: number
  /** RETENTION: alert history, and nodes not heard of, are kept this long */
  retentionMs: number
  /** the dashboard's address, for links in notifications */
  externalUrl: string
  /** act on fault-injection messages (the `clock` message): the tests only */
  faultHooks?: boolean
}

/** What /metrics shows of alerts. */
export interface AlertsStatus {
  /** firing alerts by rule and severity (rules with none firing are listed with 0) */
  firing: [rule: string, severity: string, count: number][]
  notifications: NotifyCounts
  /** notifications not delivered yet */
  outbox: number
}

/** main thread → alerts */
export type HubToAlerts =
  | { type: 'start'; settings: AlertSettings }
  /** a commit's node rows, as the header of their encoded form (storage/node-rows.ts): only what the writer confirmed is judged */
  | { type: 'samples'; receivedMs: number; header: string }
  /** clusters whose view changed (null: forgotten), as the gateway gets them: when each agent was last heard */
  | { type: 'clusters'; views: [clusterId: string, view: ClusterView | null][] }
  /** rules from PUT /api/v2/alert-rules, checked by the gateway; without `notify` the targets stay */
  | { type: 'set-rules'; request: number; document: AlertRulesDocument }
  /** the dashboard's address once the gateway listens */
  | { type: 'external-url'; url: string }
  /** fault hooks only: silence is judged as if the clock were `offsetMs` ahead */
  | { type: 'clock'; offsetMs: number }
  | { type: 'stop' }

/** alerts → main thread */
export type AlertsToHub =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'rules-set'; request: number; error?: string }
  | { type: 'status'; status: AlertsStatus }
  | { type: 'stopped' }
