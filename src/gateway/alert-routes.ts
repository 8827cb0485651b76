import { Elysia } from 'elysia'
import type { AlertReader } from '../alerts/alert-reader'
import { isMasked, maskedTarget } from '../alerts/notify/targets'
import { checkRules, pathText, withDefaults } from '../alerts/rules'
import { HttpError, jsonResponse } from '../http/errors'
import { ErrorBody } from '../model'
import { AlertHistory, AlertHistoryQuery, AlertList, AlertRulesDocument, AlertRulesView, AlertsQuery } from '../model/alerts'

export interface AlertRouteDeps {
  alerts: AlertReader
  /** hands checked rules to the alerts actor; resolves with its answer, or `timedOut` */
  setRules(document: AlertRulesDocument): Promise<{ error?: string; timedOut?: boolean }>
}

const errors = { 400: ErrorBody, 401: ErrorBody, 503: ErrorBody }
const security = [{ bearer: [] }]
const detail = (summary: string, description?: string) => ({ tags: ['alerts'], security, summary, ...(description ? { description } : {}) })

/** Reads of the alerts file fail only when the file is gone or damaged: the API says so rather than 500. */
function read<T>(what: string, run: () => T): T {
  try {
    return run()
  } catch (error) {
    throw new HttpError(503, 'alerts_unavailable', `the alerts store cannot be read (${what}): ${(error as Error).message}`, { 'retry-after': '5' })
  }
}

function rulesView(alerts: AlertReader) {
  const stored = read('rules', () => alerts.rules())
  if (!stored) throw new HttpError(503, 'alerts_unavailable', 'the alerts actor has not stored its rules yet', { 'retry-after': '1' })
  return {
    source: stored.source,
    updated_at: new Date(stored.updatedMs).toISOString(),
    rules: stored.document.rules.map(withDefaults),
    notify: (stored.document.notify ?? []).map(maskedTarget),
  }
}

/** The alerts routes (issue 13): alerts now and their history from the alerts actor's file, and the rules in force. */
export function alertRoutes({ alerts, setRules }: AlertRouteDeps) {
  return new Elysia()
    .get('/api/v2/alerts', ({ query }) => read('alerts', () => ({ alerts: alerts.alerts(query) })), {
      query: AlertsQuery,
      response: { 200: AlertList, ...errors },
      detail: detail('Alerts now: pending and firing (default), or one state', 'Firing first. Resolved alerts are listed for a day after they resolve.'),
    })
    .get('/api/v2/alerts/history', ({ query }) => {
      const hours = query.hours ?? 24
      return read('history', () => ({ hours, transitions: alerts.history({ hours, cluster: query.cluster, rule: query.rule }) }))
    }, {
      query: AlertHistoryQuery,
      response: { 200: AlertHistory, ...errors },
      detail: detail('Changes of alert state over the last hours, oldest first (at most the newest 10,000)'),
    })
    .get('/api/v2/alert-rules', () => rulesView(alerts), {
      response: { 200: AlertRulesView, ...errors },
      detail: detail('The rules in force and where notifications go (secrets in target URLs and headers hidden)'),
    })
    // The body is checked by checkRules alone, as the file is: Elysia's own validation would drop
    // unknown fields (a typo such as `fro: 5m`) before anything could name them. The schema is
    // still the document's, in the OpenAPI document.
    .put('/api/v2/alert-rules', async ({ body }) => {
      const check = checkRules(body)
      if (!check.ok) {
        throw new HttpError(400, 'invalid_rules', check.problems.map((problem) => `${pathText(problem.path)}: ${problem.message}`).join('; '))
      }
      const masked = (check.document.notify ?? []).findIndex(isMasked)
      if (masked >= 0) {
        throw new HttpError(400, 'invalid_rules', `notify[${masked}]: holds *** (a hidden value from GET); send the real URL and headers, or leave notify out to keep the targets as they are`)
      }
      const answer = await setRules(check.document)
      if (answer.timedOut) throw new HttpError(503, 'alerts_unavailable', 'the alerts actor did not answer; the rules may not be in force', { 'retry-after': '5' })
      if (answer.error) throw new HttpError(400, 'invalid_rules', answer.error)
      return jsonResponse(rulesView(alerts))
    }, {
      response: { 200: AlertRulesView, ...errors },
      detail: {
        ...detail(
          'Replace the rules (and, when given, the notification targets)',
          'Checked as the ALERT_RULES file is (400 invalid_rules names each field at fault). The rules stay in force across restarts ' +
            'until ALERT_RULES or its file changes. Alerts of a rule removed, or no longer covering their node, resolve; the others ' +
            'carry on. Without `notify` the targets stay as they are.',
        ),
        // A TypeBox schema is JSON Schema, which OpenAPI 3.1 takes as it is; its types do not say so.
        requestBody: { required: true, content: { 'application/json': { schema: AlertRulesDocument as object } } },
      },
    })
}
