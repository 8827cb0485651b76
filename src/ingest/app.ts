import { Elysia } from 'elysia'
import { AgentNetworks } from '../auth/networks'
import { AgentAuth } from '../auth/tokens'
import { HttpError, jsonResponse, methodsForPath, renderError } from '../http/errors'
import { readJsonBody, stoppingError } from './body'
import type { Drop } from '../figures/derive'
import { acceptSnapshot, resolveClusterId, type AcceptedSnapshot } from './snapshot'
import { AbortLog, ClientAborted } from './aborts'
import { ANSWER_DEADLINE_MS, answerWithin, refusal, type HubAnswer } from './answers'
import { InflightBudget } from './inflight'
import { HandlersInFlight } from './shutdown'

export interface IngestSettings {
  maxBodyBytes: number
  /** MAX_INFLIGHT_BYTES: agent bodies held at once, all requests together */
  maxInflightBytes: number
  maxClockSkewMs: number
  /** AGENT_TOKENS as [cluster, tokens] pairs; empty: no agent auth by token */
  agentTokens: [string, string[]][]
  /** AGENT_ALLOW_NETWORKS as [cluster, CIDR] pairs */
  agentNetworks: [string, string][]
  /** NET_EXCLUDE, a regular expression source */
  netExclude: string
  /** how long a request waits for the DataHub's answer at most (tests shorten it) */
  answerDeadlineMs?: number
}

/**
 * What the ingest routes need from the DataHub: hand over a snapshot or a heartbeat and learn
 * whether it was taken. `giveUp` aborts when the request stops waiting (its deadline passed).
 */
export interface HubLink {
  submit(
    snapshot: Omit<AcceptedSnapshot, 'dropped'> & { envelope: Uint8Array; gzipped: boolean; receivedMs: number },
    giveUp?: AbortSignal,
  ): Promise<HubAnswer & { stored?: number }>
  heartbeat(clusterId: string, at: number, giveUp?: AbortSignal): Promise<HubAnswer>
  /** a request was answered with this error code */
  rejected(code: string): void
  /** a snapshot was answered 200: only what agents were told is stored counts as received */
  acknowledged(): void
  /** an acknowledged snapshot had these figures left out */
  dropped(drops: readonly Drop[]): void
  /**
   * an agent request (snapshot, heartbeat, command poll) arrived, whatever becomes of it; counted
   * per ingest thread. Called by the routes, not by an onRequest hook: a global hook takes the
   * routes off Bun's native router.
   */
  received?(): void
}

/** What the ingest thread shares with the app to stop it and to look into it. */
export interface IngestRuntime {
  /** aborts when the stop begins: held command polls answer, unfinished bodies are not read on */
  stopping: AbortSignal
  /** aborts at the stop's deadline: requests still waiting for their commit are answered 503 */
  abandon: AbortSignal
  /** MAX_INFLIGHT_BYTES, shared by all requests */
  budget: InflightBudget
  /** the requests being handled, so a stop knows when they are answered */
  handlers: HandlersInFlight
  /** client aborts, counted and logged per burst (an ingest thread passes them on: the master logs one line for all threads) */
  aborts: Pick<AbortLog, 'aborted'>
}

const HEARTBEAT_MAX_BYTES = 64 * 1024
const OK = { status: 'ok' } as const
/** The answer names at most this many dropped figures; the count says how many there were. */
export const MAX_DROPS_NAMED = 100
/** How long a command poll is held: AtlHyper's agent waits up to 60 s for one, and polls again at once after. */
const COMMAND_POLL_HOLD_MS = 30_000

const never = new AbortController().signal

/** The agents' port (docs/design.md §3). */
export function ingestApp(settings: IngestSettings, hub: HubLink, runtime: Partial<IngestRuntime> = {}) {
  const { stopping = never, abandon = never } = runtime
  const budget = runtime.budget ?? new InflightBudget(settings.maxInflightBytes)
  const handlers = runtime.handlers ?? new HandlersInFlight()
  const aborts = runtime.aborts ?? new AbortLog()
  const answerDeadlineMs = settings.answerDeadlineMs ?? ANSWER_DEADLINE_MS
  const auth = new AgentAuth(settings.agentTokens, new AgentNetworks(settings.agentNetworks))
  const accept = { maxClockSkewMs: settings.maxClockSkewMs, netExclude: new RegExp(settings.netExclude) }
  /** 401 before any body is read; 403 as soon as the cluster is known (header first, body fallback). */
  const admit = (request: Request, server: { requestIP(request: Request): { address: string } | null } | null) => {
    const clusters = auth.authenticate(request.headers.get('authorization'), server?.requestIP(request)?.address)
    const header = request.headers.get('x-cluster-id')?.trim()
    if (header) AgentAuth.authorize(clusters, header)
    return (clusterId: string) => AgentAuth.authorize(clusters, clusterId)
  }
  /**
   * Runs a handler that reads a body with a lease on the budget, released whatever the outcome:
   * answered, refused, failed, or abandoned by its client.
   */
  const withBody = <T>(handler: (lease: ReturnType<InflightBudget['lease']>) => Promise<T>) =>
    handlers.run(async () => {
      hub.received?.()
      // A body that arrives on a kept-alive connection while the thread stops is not read.
      if (stopping.aborted) throw stoppingError()
      const lease = budget.lease()
      try {
        return await handler(lease)
      } finally {
        lease.release()
      }
    })
  const app = new Elysia()
    .onError(({ code, error, request }) => {
      if (error instanceof ClientAborted) {
        // Nobody is left to read an answer; an abort is the client's choice, not the master's fault.
        aborts.aborted()
        hub.rejected('client_aborted')
        return new Response(null, { status: 499 })
      }
      const response = renderError(code, error, () => methodsForPath(app.routes, request))
      hub.rejected(error instanceof HttpError ? error.code : String(code).toLowerCase())
      return response
    })
    .post(
      '/agent/snapshot',
      ({ request, server }) => withBody(async (lease) => {
        const authorize = admit(request, server)
        const body = await readJsonBody(request, { maxBytes: settings.maxBodyBytes, lease, stopping })
        const receivedMs = Date.now()
        // The parsed snapshot: counted as at least its text again (it is more, in objects).
        lease.take(body.bytes.byteLength)
        const { dropped, ...accepted } = acceptSnapshot(body, request.headers.get('x-cluster-id'), accept, receivedMs)
        authorize(accepted.clusterId)
        const snapshot = { ...accepted, envelope: body.raw, gzipped: body.gzipped, receivedMs }
        const answer = await answerWithin((giveUp) => hub.submit(snapshot, giveUp), answerDeadlineMs, abandon)
        if (!answer.ok) throw refusal(answer, 'the snapshot could not be stored; retry')
        // `nodes` is what was stored: a snapshot not newer than its node's stored one (a retry, a clock
        // that went back, AtlHyper re-sending a quiet node's last metrics) changes nothing, and says so.
        const stored = (answer as { stored?: number }).stored ?? accepted.nodes
        const ignored = accepted.nodes - stored
        const ack = { ...OK, nodes: stored, ...(ignored > 0 ? { not_newer: ignored } : {}) }
        hub.acknowledged()
        if (dropped.length === 0) return jsonResponse(ack)
        hub.dropped(dropped)
        const named = dropped.slice(0, MAX_DROPS_NAMED).map(({ path, reason }) => ({ path, reason }))
        return jsonResponse({ ...ack, dropped: named, dropped_total: dropped.length })
      }),
      { parse: 'none' },
    )
    .post(
      '/agent/heartbeat',
      ({ request, server }) => withBody(async (lease) => {
        const authorize = admit(request, server)
        const { text } = await readJsonBody(request, { maxBytes: HEARTBEAT_MAX_BYTES, limitName: 'the heartbeat limit', lease, stopping })
        const body = text.trim() === '' ? {} : parseHeartbeat(text)
        const clusterId = resolveClusterId(request.headers.get('x-cluster-id'), body.cluster_id)
        authorize(clusterId)
        // The DataHub may refuse it (a new cluster past MAX_CLUSTERS), so the agent waits for its word.
        const answer = await answerWithin((giveUp) => hub.heartbeat(clusterId, Date.now(), giveUp), answerDeadlineMs, abandon)
        if (!answer.ok) throw refusal(answer, 'the heartbeat could not be recorded; retry')
        return jsonResponse(OK)
      }),
      { parse: 'none' },
    )
    // AtlHyper's agent long-polls its master for commands (two topics, again right after each
    // answer) and logs a warning on every failed poll. This master sends none: it holds the poll as
    // AtlHyper's master would, then answers 204, AtlHyper's "no command".
    .get('/agent/commands', async ({ request, server }) => {
      hub.received?.()
      const authorize = admit(request, server)
      const clusterId = request.headers.get('x-cluster-id')?.trim()
      if (clusterId) authorize(resolveClusterId(clusterId, undefined))
      await held(COMMAND_POLL_HOLD_MS, [stopping, request.signal])
      return new Response(null, { status: 204 })
    })
  return app
}

/** Resolves after `ms`, or as soon as any of the signals aborts. */
function held(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      for (const signal of signals) signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    for (const signal of signals) {
      if (signal.aborted) return done()
      signal.addEventListener('abort', done)
    }
  })
}

function parseHeartbeat(text: string): { cluster_id?: string } {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_body', '/: a heartbeat body must be a JSON object')
  }
  const clusterId = (body as { cluster_id?: unknown }).cluster_id
  if (clusterId !== undefined && typeof clusterId !== 'string') {
    throw new HttpError(400, 'invalid_body', '/cluster_id: must be a string')
  }
  return { cluster_id: clusterId }
}
