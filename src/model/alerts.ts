import { t, type Static } from 'elysia'
import { FIGURES } from './figures'
import { Name } from './node-metrics'

/**
 * Alert rules, notification targets and alerts (issue 13). The rule file (ALERT_RULES), the
 * `/api/v2/alert-rules` body and the OpenAPI document all come from these schemas; the field
 * names are fixed so rule files can be shared.
 */

/** Figures judged on the master's clock, when nothing arrives: a node or an agent gone silent. */
export const SILENCE_FIGURES = ['stale', 'agent_offline'] as const
export type SilenceFigure = (typeof SILENCE_FIGURES)[number]
export const ALERT_FIGURES: readonly string[] = [...FIGURES.map((figure) => figure.field), ...SILENCE_FIGURES]
export const ALERT_OPS = ['>', '>=', '<', '<=', '==', '!='] as const
export type AlertOp = (typeof ALERT_OPS)[number]

const Duration = t.String({
  pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)$',
  description: 'a duration such as 30s, 5m or 1h',
})

export const AlertRule = t.Object(
  {
    name: t.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$', description: 'unique; the alertname label (letters, digits, _ . : -)' }),
    // Checked against ALERT_FIGURES by alerts/rules.ts: a union of literals built from the registry types as never in Elysia's answers.
    figure: t.String({ description: `a history figure (${FIGURES.map((figure) => figure.field).join(', ')}), or stale / agent_offline` }),
    op: t.Optional(
      t.Union([t.Literal('>'), t.Literal('>='), t.Literal('<'), t.Literal('<='), t.Literal('=='), t.Literal('!=')], {
        description: 'the comparison: >, >=, <, <=, == or != (figure rules; not for stale / agent_offline)',
      }),
    ),
    threshold: t.Optional(t.Number({ description: "in the figure's unit (%, °C, B/s); figure rules only" })),
    for: t.Optional(t.Union([Duration, t.Literal(0)], { description: 'how long the condition must hold before the alert fires (default 0: at once)' })),
    resolve: t.Optional(
      t.Number({ description: 'hysteresis: a firing alert resolves only once the figure is past this (below it for > and >=, above it for < and <=)' }),
    ),
    severity: t.Optional(t.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'the severity label (default warning)' })),
    clusters: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 253 }), { description: 'cluster ids, or ["*"] (default) for all', minItems: 1 })),
    nodes: t.Optional(t.String({ minLength: 1, maxLength: 253, description: 'a glob on node names (* and ?), default *' })),
    description: t.Optional(t.String({ maxLength: 1000, description: 'free text, sent as the description annotation' })),
  },
  { additionalProperties: false },
)
export type AlertRule = Static<typeof AlertRule>

const Headers = t.Optional(
  t.Record(t.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), t.String({ maxLength: 4096, pattern: '^[\\t\\x20-\\x7e\\x80-\\xff]*$', description: 'a header value (printable Latin-1: no line breaks or control characters)' }), {
    description: 'extra request headers, e.g. Authorization',
  }),
)
const TargetUrl = t.String({ pattern: '^https?://', maxLength: 2048, description: 'an http:// or https:// URL' })

export const NotifyTarget = t.Union([
  t.Object(
    { type: t.Literal('webhook', { description: "body: Alertmanager's webhook JSON (version 4)" }), url: TargetUrl, headers: Headers },
    { additionalProperties: false },
  ),
  t.Object({ type: t.Literal('slack', { description: 'a Slack-compatible incoming webhook' }), url: TargetUrl }, { additionalProperties: false }),
  t.Object(
    { type: t.Literal('alertmanager', { description: "an Alertmanager: POST {url}/api/v2/alerts" }), url: TargetUrl, headers: Headers },
    { additionalProperties: false },
  ),
])
export type NotifyTarget = Static<typeof NotifyTarget>

export const MAX_ALERT_RULES = 10_000
export const MAX_NOTIFY_TARGETS = 20

export const AlertRulesDocument = t.Object(
  {
    rules: t.Array(AlertRule, { maxItems: MAX_ALERT_RULES }),
    notify: t.Optional(t.Array(NotifyTarget, { maxItems: MAX_NOTIFY_TARGETS, description: 'where state changes are sent; omitted in a PUT: kept as they are' })),
  },
  { additionalProperties: false },
)
export type AlertRulesDocument = Static<typeof AlertRulesDocument>

export const AlertRulesSource = t.Union([t.Literal('defaults'), t.Literal('none'), t.Literal('file'), t.Literal('api')], {
  description: 'where the rules in force come from: the built-in defaults, ALERT_RULES=none, the ALERT_RULES file, or a PUT',
})
export type AlertRulesSource = Static<typeof AlertRulesSource>

export const AlertRulesView = t.Object({
  source: AlertRulesSource,
  updated_at: t.String({ format: 'date-time' }),
  rules: t.Array(AlertRule),
  notify: t.Array(NotifyTarget, { description: 'URLs with their credentials, query and (Slack) path hidden' }),
})

export const AlertState = t.Union([t.Literal('pending'), t.Literal('firing'), t.Literal('resolved')])
export type AlertState = Static<typeof AlertState>

export const Alert = t.Object({
  rule: t.String(),
  figure: t.String(),
  severity: t.String(),
  cluster: t.String(),
  node: t.String({ description: 'empty for agent_offline (the alert is the agent’s)' }),
  state: AlertState,
  active_since: t.String({ format: 'date-time', description: 'when the condition began to hold' }),
  fired_at: t.Union([t.String({ format: 'date-time' }), t.Null()]),
  resolved_at: t.Union([t.String({ format: 'date-time' }), t.Null()]),
  value: t.Union([t.Number(), t.Null()], { description: 'the figure when the state last changed (null for stale / agent_offline)' }),
  summary: t.String(),
})
export type Alert = Static<typeof Alert>

export const AlertList = t.Object({ alerts: t.Array(Alert) })

export const AlertsQuery = t.Object({
  state: t.Optional(
    t.Union([t.Literal('active'), t.Literal('pending'), t.Literal('firing'), t.Literal('resolved')], {
      description: 'active (default: pending and firing), pending, firing, or resolved (within the last 24 h)',
    }),
  ),
  cluster: t.Optional(Name),
  node: t.Optional(Name),
})

export const AlertTransition = t.Object({
  at: t.String({ format: 'date-time' }),
  rule: t.String(),
  severity: t.String(),
  cluster: t.String(),
  node: t.String(),
  from: t.Union([t.Literal('inactive'), AlertState]),
  to: t.Union([t.Literal('inactive'), AlertState]),
  value: t.Union([t.Number(), t.Null()]),
})

export const AlertHistory = t.Object({ hours: t.Number(), transitions: t.Array(AlertTransition) })

export const AlertHistoryQuery = t.Object({
  hours: t.Optional(t.Numeric({ minimum: 1, maximum: 8760, description: 'how far back, in hours (default 24)' })),
  cluster: t.Optional(Name),
  rule: t.Optional(t.String({ maxLength: 128 })),
})
