import { Elysia } from 'elysia'
import { AgentNetworks } from '../auth/networks'
import { AgentAuth } from '../auth/tokens'
import { HttpError, jsonResponse, methodsForPath, renderError } from '../http/errors'
import { readJsonBody } from './body'
import type { Drop } from '../figures/derive'
import { acceptSnapshot, resolveClusterId, type AcceptedSnapshot } from './snapshot'

export interface IngestSettings {
  maxBodyBytes: number
  maxClockSkewMs: number
  agentTokens: [string, string[]][]
  agentNetworks: [string, string][]
  /** NET_EXCLUDE, a regular expression source */
  netExclude: string
}

/** What the ingest routes need from the DataHub: hand over a snapshot and learn whether it was committed. */
export interface HubLink {
  submit(
    snapshot: Omit<AcceptedSnapshot, 'dropped'> & { envelope: Uint8Array; gzipped: boolean; receivedAt: number },
  ): Promise<{ ok: boolean; message?: string; retryAfterSeconds?: number; stored?: number; status?: number; code?: string }>
  heartbeat(clusterId: string, at: number): Promise<{ ok: boolean; message?: string; retryAfterSeconds?: number; status?: number; code?: string }>
  /** a request was answered with this error code */
  rejected(code: string): void
  /** an acknowledged snapshot had these figures left out */
  dropped(drops: readonly Drop[]): void
}

const HEARTBEAT_MAX_BYTES = 64 * 1024
const OK = { status: 'ok' } as const
/** The answer names at most this many dropped figures; the count says how many there were. */
export const MAX_DROPS_NAMED = 100
/** How long a command poll is held: AtlHyper's agent waits up to 60 s for one, and polls again at once after. */
const COMMAND_POLL_HOLD_MS = 30_000

/** The agents' port (docs/design.md §3). */
/** `stopping` ends held command polls at once, so a stop never waits for them. */
export function ingestApp(settings: IngestSettings, hub: HubLink, stopping: AbortSignal = new AbortController().signal) {
  const auth = new AgentAuth(settings.agentTokens, new AgentNetworks(settings.agentNetworks))
  const accept = { maxClockSkewMs: settings.maxClockSkewMs, netExclude: new RegExp(settings.netExclude) }
  /** 401 before any body is read; 403 as soon as the cluster is known (header first, body fallback). */
  const admit = (request: Request, server: { requestIP(request: Request): { address: string } | null } | null) => {
    const clusters = auth.authenticate(request.headers.get('authorization'), server?.requestIP(request)?.address)
    const header = request.headers.get('x-cluster-id')?.trim()
    if (header) AgentAuth.authorize(clusters, header)
    return (clusterId: string) => AgentAuth.authorize(clusters, clusterId)
  }
  const app = new Elysia()
    .onError(({ code, error, request }) => {
      const response = renderError(code, error, () => methodsForPath(app.routes, request))
      hub.rejected(error instanceof HttpError ? error.code : String(code).toLowerCase())
      return response
    })
    .post(
      '/agent/snapshot',
      async ({ request, server }) => {
        const authorize = admit(request, server)
        const body = await readJsonBody(request, settings.maxBodyBytes)
        const receivedAt = Date.now()
        const { dropped, ...accepted } = acceptSnapshot(body, request.headers.get('x-cluster-id'), accept, receivedAt)
        authorize(accepted.clusterId)
        const answer = await hub.submit({ ...accepted, envelope: body.raw, gzipped: body.gzipped, receivedAt })
        if (!answer.ok) throw refusal(answer, 'the snapshot could not be stored; retry')
        // `nodes` is what was stored: a snapshot not newer than its node's stored one (a retry, a clock
        // that went back, AtlHyper re-sending a quiet node's last metrics) changes nothing, and says so.
        const stored = answer.stored ?? accepted.nodes
        const ignored = accepted.nodes - stored
        const ack = { ...OK, nodes: stored, ...(ignored > 0 ? { not_newer: ignored } : {}) }
        if (dropped.length === 0) return jsonResponse(ack)
        hub.dropped(dropped)
        const named = dropped.slice(0, MAX_DROPS_NAMED).map(({ path, reason }) => ({ path, reason }))
        return jsonResponse({ ...ack, dropped: named, dropped_total: dropped.length })
      },
      { parse: 'none' },
    )
    .post(
      '/agent/heartbeat',
      async ({ request, server }) => {
        const authorize = admit(request, server)
        const { text } = await readJsonBody(request, HEARTBEAT_MAX_BYTES)
        const body = text.trim() === '' ? {} : parseHeartbeat(text)
        const clusterId = resolveClusterId(request.headers.get('x-cluster-id'), body.cluster_id)
        authorize(clusterId)
        const answer = await hub.heartbeat(clusterId, Date.now())
        if (!answer.ok) throw refusal(answer, 'the heartbeat could not be taken; retry')
        return jsonResponse(OK)
      },
      { parse: 'none' },
    )
    // AtlHyper's agent long-polls its master for commands (two topics, again right after each
    // answer) and logs a warning on every failed poll. This master sends none: it holds the poll as
    // AtlHyper's master would, then answers 204, AtlHyper's "no command".
    .get('/agent/commands', async ({ request, server }) => {
      const authorize = admit(request, server)
      const clusterId = request.headers.get('x-cluster-id')?.trim()
      if (clusterId) authorize(resolveClusterId(clusterId, undefined))
      await held(COMMAND_POLL_HOLD_MS, [stopping, request.signal])
      return new Response(null, { status: 204 })
    })
  return app
}

/** The DataHub said no: its status and code (default 503 unavailable), with Retry-After. */
function refusal(answer: { message?: string; retryAfterSeconds?: number; status?: number; code?: string }, fallback: string): HttpError {
  return new HttpError(answer.status ?? 503, answer.code ?? 'unavailable', answer.message ?? fallback, {
    'retry-after': String(answer.retryAfterSeconds ?? 1),
  })
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
