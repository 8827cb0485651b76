import type { NotifyTarget } from '../../model/alerts'
import type { AlertRecord } from '../evaluator'

/**
 * What each kind of target is sent. One group is one rule in one cluster at one evaluation: the
 * alerts of its nodes that fired or resolved then, in one message.
 */
export interface AlertGroup {
  rule: string
  cluster: string
  severity: string
  /** the rule's description annotation, if it has one */
  description?: string
  alerts: AlertRecord[]
}

/** Alertmanager's zero time: a firing alert's endsAt in its webhook body. */
const ZERO_TIME = '0001-01-01T00:00:00Z'
/** A firing alert sent to an Alertmanager ends by itself this long after its last refresh (notifier.ts refreshes every minute). */
export const ALERTMANAGER_END_AFTER_MS = 4 * 60_000

const iso = (ms: number) => new Date(ms).toISOString()
const SLACK_LINES = 50

/** The labels every kind of target gets: alertname, cluster, node (left out for an agent's alert), severity. */
export function labelsOf(alert: AlertRecord): Record<string, string> {
  return { alertname: alert.rule, cluster: alert.cluster, ...(alert.node ? { node: alert.node } : {}), severity: alert.severity }
}

function annotationsOf(alert: AlertRecord, description: string | undefined): Record<string, string> {
  return {
    summary: alert.summary,
    ...(description ? { description } : {}),
    ...(alert.value === null ? {} : { value: String(alert.value) }),
  }
}

/** Alertmanager's own fingerprint is a hash of the label set; this one is too (FNV-free: Bun's wyhash), 16 hex digits. */
function fingerprintOf(labels: Record<string, string>): string {
  const text = Object.keys(labels).sort().map((name) => `${name}\xff${labels[name]}\xff`).join('')
  return Bun.hash(text).toString(16).padStart(16, '0')
}

/** Alertmanager's webhook body (version 4), so receivers written for Alertmanager take it unchanged. */
export function webhookBody(group: AlertGroup, externalUrl: string): object {
  const alerts = group.alerts.map((alert) => {
    const labels = labelsOf(alert)
    return {
      status: alert.state === 'resolved' ? 'resolved' : 'firing',
      labels,
      annotations: annotationsOf(alert, group.description),
      startsAt: iso(alert.activeSinceMs),
      endsAt: alert.resolvedMs === undefined ? ZERO_TIME : iso(alert.resolvedMs),
      generatorURL: generatorUrl(externalUrl, alert),
      fingerprint: fingerprintOf(labels),
    }
  })
  const groupLabels = { alertname: group.rule, cluster: group.cluster }
  return {
    version: '4',
    groupKey: `{}:{alertname="${group.rule}", cluster="${group.cluster}"}`,
    truncatedAlerts: 0,
    status: alerts.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'node-metrics-master',
    groupLabels,
    commonLabels: common(alerts.map((alert) => alert.labels)),
    commonAnnotations: common(alerts.map((alert) => alert.annotations)),
    externalURL: externalUrl,
    alerts,
  }
}

/** A Slack-compatible incoming webhook's body (Slack, Mattermost, Rocket.Chat; Discord at …/slack). */
export function slackBody(group: AlertGroup): object {
  const firing = group.alerts.filter((alert) => alert.state !== 'resolved')
  const resolved = group.alerts.filter((alert) => alert.state === 'resolved')
  const head = firing.length > 0 ? `[FIRING:${firing.length}]` : `[RESOLVED:${resolved.length}]`
  // Chat servers refuse long messages (Mattermost at ~16k characters): a thousand nodes going stale
  // together are named up to SLACK_LINES, and counted past them.
  const listed = group.alerts.slice(0, SLACK_LINES)
  const lines = [
    `*${head} ${group.rule}* in cluster \`${group.cluster}\` (${group.severity})${firing.length > 0 && resolved.length > 0 ? `, ${resolved.length} resolved` : ''}`,
    ...listed.map((alert) => `${alert.state === 'resolved' ? '✅' : '🔥'} ${alert.summary}`),
    ...(group.alerts.length > listed.length ? [`… and ${group.alerts.length - listed.length} more`] : []),
    ...(group.description ? [group.description] : []),
  ]
  return { text: lines.join('\n') }
}

/**
 * The alerts as Alertmanager's API takes them (POST /api/v2/alerts). A firing alert carries an
 * end a few minutes ahead and is sent again every minute while it fires, as Prometheus does, so
 * an Alertmanager whose master went away resolves it by itself rather than keeping it for ever.
 * Alertmanager refuses (400) an alert that ends before it starts, and a refused message would
 * hold up every later one to that target: a start stamped by an agent whose clock runs ahead
 * (MAX_CLOCK_SKEW allows 5 minutes) pushes a firing alert's end past it, and a resolve never
 * ends before its start.
 */
export function alertmanagerBody(alerts: readonly AlertRecord[], externalUrl: string, now: number, description?: string): object[] {
  return alerts.map((alert) => {
    const endsMs = alert.resolvedMs ?? Math.max(now, alert.activeSinceMs) + ALERTMANAGER_END_AFTER_MS
    return {
      labels: labelsOf(alert),
      annotations: annotationsOf(alert, description),
      startsAt: iso(Math.min(alert.activeSinceMs, endsMs)),
      endsAt: iso(endsMs),
      generatorURL: generatorUrl(externalUrl, alert),
    }
  })
}

export function bodyFor(target: NotifyTarget, group: AlertGroup, externalUrl: string, now: number): object {
  switch (target.type) {
    case 'webhook':
      return webhookBody(group, externalUrl)
    case 'slack':
      return slackBody(group)
    case 'alertmanager':
      return alertmanagerBody(group.alerts, externalUrl, now, group.description)
  }
}

/** The dashboard's page of the node (or of the cluster, for an agent's alert). */
function generatorUrl(externalUrl: string, alert: AlertRecord): string {
  const base = externalUrl.replace(/\/$/, '')
  return alert.node ? `${base}/#/node/${encodeURIComponent(alert.cluster)}/${encodeURIComponent(alert.node)}` : `${base}/#/`
}

/** The key/value pairs every one of `maps` has alike. */
function common(maps: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = maps
  if (!first) return {}
  return Object.fromEntries(Object.entries(first).filter(([name, value]) => rest.every((map) => map[name] === value)))
}
