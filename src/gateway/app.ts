import { cors } from '@elysiajs/cors'
import { swagger } from '@elysiajs/swagger'
import { Elysia, t } from 'elysia'
import { ApiAuth } from '../auth/tokens'
import { HttpError, jsonResponse, jsonTextResponse, methodsForPath, renderError } from '../http/errors'
import { summarize } from './summary'
import {
  ClusterList, ClusterNodeMetrics, EnvelopeBody, ErrorBody, FleetHistory, FleetHistoryQuery, Health, HistoryQuery, Name, NodeHistory, NodeMetricsSnapshot,
} from '../model'
import { checkFleetSize, fleetMaxPoints, resolveRange, type HistoryRange } from './range'
import type { Tier } from '../storage/tiers'
import type { FleetStatus } from './status'
import type { LatestFigures, NodeList } from '../storage/metrics-reader'
import type { ReadStore } from '../storage/store'
import { FIGURES } from '../model/figures'
import { concatBytes } from '../storage/node-rows'
import { AnswerCache } from './answer-cache'
import { LatestIndex } from './latest-index'
import { isPublicRoute } from './public-routes'
import { explicitParams } from '../http/query'
import { NodeFigures, NodeStatus } from '../model/summary'
import { dashboardRoutes } from '../dashboard/routes'
import { alertRoutes, type AlertRouteDeps } from './alert-routes'
import { agentPaths } from './agent-docs'
import { atlhyperHistory, atlhyperNode, atlhyperNodeList, atlhyperSummary } from './atlhyper'
import { AtlHyperHistory, AtlHyperHistoryQuery, AtlHyperNodeList, AtlHyperQuery, atlhyperHours } from '../model/atlhyper'

export interface GatewayDeps {
  reader: ReadStore
  status: FleetStatus
  /** the Prometheus text exposition */
  metrics(): Promise<string>
  /** every cluster the DataHub knows, with when it last heard from the agent */
  knownClusters(): Iterable<[string, { snapshotMs?: number; heartbeatMs?: number }]>
  /** history tiers, finest first (storage/tiers) */
  tiers: Tier[]
  /** changes whenever a cluster's stored data may have changed (the DataHub sends it with each cluster's view) */
  dataVersion(clusterId: string): Promise<string>
  /** API_TOKENS; empty: the query API is open */
  apiTokens: string[]
  /** where agents post (the ingest port), for the agent routes' documentation; known once it listens */
  ingestUrl(): string
  /** CORS_ORIGINS: origins whose pages may read the API; empty: the browser's same-origin rule stands */
  corsOrigins: string[]
  health(): Promise<Health>
  /** the DataHub's newest envelope of a cluster, as its agent sent it (gzipped if it came so); none: unknown cluster */
  envelope(clusterId: string): Promise<{ envelope?: Uint8Array; gzipped?: boolean; timedOut?: boolean }>
  /** the alerts file and the way to the alerts actor */
  alerting: AlertRouteDeps
}

const HOUR_MS = 3_600_000
const LIST_CACHE_BYTES = 64 * 1024 * 1024
const ENVELOPE_CACHE_BYTES = 64 * 1024 * 1024
/** Latest figure rows kept for the node route and the fleet size check (~0.5 KiB each). */
const LATEST_INDEX_ROWS = 200_000
const utf8 = new TextEncoder()

const ClusterParams = t.Object({ clusterId: Name })
const NodeParams = t.Object({ clusterId: Name, nodeName: Name })
// 503: the store cannot be read now (/healthz says why); 500: an error the gateway did not expect.
const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 500: ErrorBody, 503: ErrorBody }
const security = [{ bearer: [] }]

/**
 * The node route's answer: the body is the agent's bytes, so what the master knows of the node
 * travels in headers. The swagger plugin copies a response schema's other keys onto the
 * response object, which is where OpenAPI documents headers.
 */
const NodeResponse = {
  ...NodeMetricsSnapshot,
  headers: {
    'x-node-status': { description: NodeStatus.description, schema: NodeStatus },
    'x-node-figures': {
      description: "the node's figures as the master derived them (the node list's node_figures entry), as JSON",
      content: { 'application/json': { schema: NodeFigures } },
    },
  },
} as unknown as typeof NodeMetricsSnapshot

/**
 * The dashboards' port (docs/design.md §5). Stored snapshots are JSON text already, so answers are
 * assembled from that text instead of parsing and re-serialising every node.
 */
export function gatewayApp({ reader, status, metrics, knownClusters, tiers, dataVersion, apiTokens, health, ingestUrl, corsOrigins, envelope, alerting }: GatewayDeps) {
  const auth = new ApiAuth(apiTokens)
  const lists = new AnswerCache(LIST_CACHE_BYTES)
  const envelopes = new AnswerCache(ENVELOPE_CACHE_BYTES)
  const fetchingEnvelopes = new Map<string, Promise<Uint8Array>>()
  const latest = new LatestIndex(reader, dataVersion, LATEST_INDEX_ROWS)
  /**
   * A cluster's node list, megabytes for a large cluster. Status changes with the clock, so it is
   * worked out for every answer from the small figure columns; the answer itself is built once per
   * state of the cluster's data and of its set of stale nodes, from figures and snapshots read in
   * one transaction (a commit between two reads would make the summary disagree with the nodes).
   */
  const cachedNodeList = async (
    request: Request,
    key: string,
    clusterId: string,
    build: (list: NodeList, isStale: (row: LatestFigures) => boolean) => Uint8Array,
  ) => {
    // The rows and the data version they were read at: one look at the database's version per answer.
    const { rows: figures, version: dataVersionNow } = await latest.get(clusterId)
    const statusOf = status.nodeStatus(clusterId)
    const isStale = (row: LatestFigures) => statusOf(row.received_ms) === 'stale'
    const stale = figures.filter(isStale).map((row) => row.node_name)
    const version = `${dataVersionNow}|${stale.join('\n')}`
    let body = lists.get(key, version)
    if (!body) lists.set(key, version, (body = build(await reader.nodeList(clusterId), isStale)))
    // A dashboard polling a list that has not changed gets 304 and no body: megabytes a poll saved,
    // for this thread and for every other on the machine. Browsers revalidate so by themselves.
    const headers = { etag: lists.etag(key, version, body), 'cache-control': 'no-cache' }
    if (matchesEtag(request.headers.get('if-none-match'), headers.etag)) return new Response(null, { status: 304, headers })
    return jsonTextResponse(body, 200, headers)
  }
  // The app's own routes, for 405 answers; bound once the app exists.
  let routes: () => readonly { method: string; path: string }[] = () => []
  // strictPath: `/metrics/` or `…/node-metrics/` (an empty node name) are no route at all (404),
  // rather than another spelling of a route.
  const app = new Elysia({ strictPath: true })
    // Transform runs before validation: a caller without a token learns nothing from a 400. Decided
    // by the route that matched, not the request's path (the two can differ: a doubled slash, and
    // Elysia reads the path of a request with a very short Host header from the wrong offset), and
    // every route needs a token but the public ones: a route added later is guarded by default.
    // Registered first, so it runs for the plugins' routes too.
    .onTransform({ as: 'global' }, ({ request, route }) => {
      if (!isPublicRoute(request.method, route)) auth.check(request.headers.get('authorization'))
    })
    .use(
      // The plugin writes the OpenAPI document; its own page loads Swagger UI from a CDN, so it is
      // moved aside and /swagger is served from local assets by the dashboard routes.
      swagger({
        path: '/swagger/cdn',
        specPath: '/swagger/json',
        provider: 'swagger-ui',
        exclude: ['/swagger', '/swagger/cdn', '/swagger/json', '/', '/assets/:file'],
        documentation: {
          // TypeBox writes JSON Schema as OpenAPI 3.1 has it (`type: "null"`, patternProperties); 3.0 has neither.
          openapi: '3.1.0',
          info: {
            title: 'Node metrics master',
            version: '1.0.0',
            description:
              'Latest node metrics, cluster summaries and trend history pushed by cluster agents. Agents post to the ingest ' +
              'port (tag `agent`: the accept policy and the network rule are there); everything else is on this port. ' +
              'A figure that is not there (not reported, or dropped as out of range) reads null, never 0.',
          },
          tags: [
            { name: 'node-metrics' },
            { name: 'atlhyper', description: "AtlHyper's own read routes, in its shapes: a team moving from AtlHyper's master keeps its web UI" },
            { name: 'agent', description: 'The ingest port: what agents send and what the master accepts' },
            { name: 'alerts', description: 'Rules judged on every committed sample, alerts and their history; notifications go to webhooks, Slack and Alertmanager' },
            { name: 'health' },
          ],
          // Read when the document is asked for: the ingest port is bound after this app is built.
          get paths() {
            return agentPaths(ingestUrl())
          },
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'one of API_TOKENS, when set' } },
          },
        },
      }),
    )
    .onError(({ code, error, request }) => renderError(code, error, () => methodsForPath(routes(), request, true)))
    // Off by default: an open API on loopback must not be readable by any page the operator visits.
    // AtlHyper's web UI runs on an origin of its own and needs its origin listed.
    .use(corsOrigins.length === 0 ? new Elysia() : cors({
      origin: corsOrigins.includes('*') ? true : corsOrigins,
      methods: ['GET'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      credentials: false,
    }))
    .use(dashboardRoutes())
    .use(alertRoutes(alerting))
    .get(
      '/metrics',
      async () => new Response(await metrics(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }),
      {
        detail: {
          tags: ['health'],
          security,
          summary: 'Prometheus metrics: the master itself and a gauge per node figure',
          description:
            'Text exposition format. nmm_* describe the master (snapshots received and rejected by reason, writer ' +
            'queue, commit size and time, database size, cleanup); node_* give each node\'s latest figures, labelled ' +
            'cluster and node.',
          responses: {
            200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
            401: { description: 'no or a wrong token (API_TOKENS)', content: { 'application/json': { schema: ErrorBody } } },
            500: { description: 'an error the gateway did not expect (the node gauges are left out, not the whole answer, while the store cannot be read)', content: { 'application/json': { schema: ErrorBody } } },
          },
        },
      },
    )
    .get(
      '/healthz',
      async () => {
        const answer = await health()
        return jsonResponse(answer, answer.status === 'ok' ? 200 : 503)
      },
      {
        response: { 200: Health, 503: Health },
        detail: { tags: ['health'], summary: 'Liveness, and whether storage takes writes and answers reads (503 while it does not)' },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/node-metrics',
      ({ params, request }) =>
        cachedNodeList(request, params.clusterId, params.clusterId, ({ figures, snapshots }, isStale) => {
          const nodeStatus = Object.fromEntries(figures.map((row) => [row.node_name, isStale(row) ? 'stale' : 'online']))
          const summary = summarize(figures, isStale)
          const nodeFigures = Object.fromEntries(figures.map((row) => [row.node_name, figuresOf(row)]))
          const head = `{"summary":${JSON.stringify(summary)},"node_status":${JSON.stringify(nodeStatus)},"node_figures":${JSON.stringify(nodeFigures)},"nodes":{`
          const parts: Uint8Array[] = [utf8.encode(head)]
          snapshots.forEach((row, index) => {
            parts.push(utf8.encode(`${index === 0 ? '' : ','}${JSON.stringify(row.node_name)}:`), row.snapshot)
          })
          parts.push(utf8.encode('}}'))
          return concatBytes(parts)
        }),
      {
        params: ClusterParams,
        response: { 200: ClusterNodeMetrics, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: 'Latest metrics of every node of a cluster, with the cluster summary',
          description:
            'An unknown cluster answers an empty node map and a zeroed summary. The answer carries an ETag (and ' +
            'Cache-Control: no-cache): a request with If-None-Match naming it gets 304 and no body until the ' +
            "cluster's data or a node's status changes.",
        },
      },
    )
    .get(
      '/api/v2/clusters',
      async () => {
        const now = Date.now()
        const nodes = new Map<string, { nodes: number; stale: number }>()
        let current = ''
        let statusOf = status.nodeStatus('', now)
        for (const row of await reader.nodeTimes()) {
          if (row.cluster_id !== current) statusOf = status.nodeStatus((current = row.cluster_id), now)
          const counts = nodes.get(row.cluster_id) ?? { nodes: 0, stale: 0 }
          counts.nodes++
          if (statusOf(row.received_ms) === 'stale') counts.stale++
          nodes.set(row.cluster_id, counts)
        }
        const heard = new Map(knownClusters())
        const ids = [...new Set([...nodes.keys(), ...heard.keys()])].sort()
        const clusters = ids.map((clusterId) => {
          const counts = nodes.get(clusterId) ?? { nodes: 0, stale: 0 }
          return {
            cluster_id: clusterId,
            agent: status.agentOnline(clusterId, now) ? ('online' as const) : ('offline' as const),
            last_snapshot_at: heard.get(clusterId)?.snapshotMs ?? null,
            last_heartbeat_at: heard.get(clusterId)?.heartbeatMs ?? null,
            nodes: counts.nodes,
            online_nodes: counts.nodes - counts.stale,
            stale_nodes: counts.stale,
            stale_after_ms: status.staleAfterMs(clusterId),
          }
        })
        return jsonResponse({ clusters } satisfies ClusterList)
      },
      {
        response: { 200: ClusterList, 401: ErrorBody, 503: ErrorBody },
        detail: { tags: ['node-metrics'], security, summary: 'Every cluster with its agent status, last snapshot and node counts' },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/snapshot',
      async ({ params, request }) => {
        const gzip = acceptsGzip(request.headers.get('accept-encoding'))
        // One copy per cluster, version and encoding, shared by every answer: many clients that ask for a
        // 15 MiB envelope and read it slowly hold one buffer, not one each.
        const key = `${params.clusterId}\u0000${gzip ? 'gzip' : 'identity'}`
        const version = await dataVersion(params.clusterId)
        let body = envelopes.get(key, version)
        if (!body) {
          // Clients asking at once share one request to the DataHub, and one copy.
          let fetching = fetchingEnvelopes.get(key)
          if (!fetching) {
            fetching = envelope(params.clusterId).then((held) => {
              if (held.timedOut) throw new HttpError(503, 'unavailable', 'the DataHub did not hand over the envelope in time; retry', { 'retry-after': '1' })
              if (!held.envelope) throw new HttpError(404, 'cluster_not_found', `no snapshot of cluster "${params.clusterId}" is held`)
              const bytes = envelopeBytes(held.envelope, held.gzipped ?? false, gzip)
              envelopes.set(key, version, bytes)
              return bytes
            }).finally(() => fetchingEnvelopes.delete(key))
            fetchingEnvelopes.set(key, fetching)
          }
          body = await fetching
        }
        const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', vary: 'accept-encoding' }
        if (gzip) headers['content-encoding'] = 'gzip'
        // Streamed from the shared copy as the client reads: a body handed over whole is copied into the
        // connection's buffer wherever the client reads slower than it is written (14 MiB per slow reader).
        return new Response(streamed(body), { headers })
      },
      {
        params: ClusterParams,
        response: { 200: EnvelopeBody, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: "The cluster's newest snapshot envelope (pods, deployments, events, node metrics, …) as its agent sent it",
          description:
            'The JSON exactly as the agent posted it, of the newest snapshot whose node metrics are committed; gzipped ' +
            '(Content-Encoding: gzip) when the request accepts gzip. 404 when the master holds none (none since its start).',
        },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/node-metrics/:nodeName',
      async ({ params }) => {
        const { snapshot } = await findNode(reader, params.clusterId, params.nodeName)
        const row = (await latest.get(params.clusterId)).byName.get(params.nodeName)
        const headers: Record<string, string> = {}
        if (row) {
          headers['x-node-status'] = status.nodeStatus(params.clusterId)(row.received_ms)
          headers['x-node-figures'] = JSON.stringify(figuresOf(row))
        }
        return jsonTextResponse(snapshot, 200, headers)
      },
      {
        params: NodeParams,
        response: { 200: NodeResponse, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: 'Latest metrics of one node',
          description:
            'The body is the snapshot byte for byte as its agent sent it; the node\'s status and derived figures are in the ' +
            'x-node-status and x-node-figures headers, as the node list gives them.',
        },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/node-metrics/:nodeName/history',
      async ({ params, query, request }) => {
        const nodeId = await historyNodeId(reader, params.clusterId, params.nodeName)
        const range = resolveRange(explicitParams(query, request.url), tiers)
        const history = await reader.history(nodeId, range.tier, range.fromS, range.toS, range.widthS)
        return jsonResponse({ node_name: params.nodeName, ...rangeFields(range), points: history.length, history } satisfies NodeHistory)
      },
      {
        params: NodeParams,
        query: HistoryQuery,
        response: { 200: NodeHistory, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: 'Trend points of one node, ascending: average and peak per bucket',
          description:
            '`hours` alone gives every SAMPLE_INTERVAL point of the last hours, as it always has. `start`/`end` pick the ' +
            'tier from the range (hourly past RETENTION or for steps of an hour or more); `step` or `max_points` widen ' +
            'the buckets: average of averages weighted by samples, peak of peaks.',
        },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/history',
      async ({ params, query, request }) => {
        const given = explicitParams(query, request.url)
        // Sized before it runs: every node with an identity may have a series (removed ones keep their
        // hourly points), and the points follow from the range.
        const nodes = await reader.nodeCount(params.clusterId)
        const range = resolveRange({ ...given, max_points: fleetMaxPoints(given, nodes) }, tiers)
        checkFleetSize(nodes, range)
        const series = await reader.fleetHistory(params.clusterId, query.metric, range.tier, range.fromS, range.toS, range.widthS)
        const body: FleetHistory = { cluster_id: params.clusterId, metric: query.metric, ...rangeFields(range), nodes: Object.fromEntries(series) }
        return jsonResponse(body)
      },
      {
        params: ClusterParams,
        query: FleetHistoryQuery,
        response: { 200: FleetHistory, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: 'One metric of every node of a cluster, for the fleet overview chart',
          description:
            'The same ranges and buckets as a node history, e.g. `?metric=cpu_usage&hours=24&max_points=300`, but without ' +
            '`step` or `max_points` at most 300 points per node. One answer holds at most 200,000 values (nodes × points): ' +
            'past it, 400 `too_many_points` before anything is read — narrow the range or set max_points or a wider step.',
        },
      },
    )
    .get(
      '/api/v2/node-metrics',
      ({ query, request }) =>
        // Cached as the cluster's own node list is: nodes are re-shaped for AtlHyper's UI only when the data changes.
        cachedNodeList(request, `atlhyper\u0000${query.cluster_id}`, query.cluster_id, ({ figures, snapshots }, isStale) =>
          atlhyperNodeList(atlhyperSummary(figures, isStale), snapshots)),
      {
        query: AtlHyperQuery,
        response: { 200: AtlHyperNodeList, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
        detail: {
          tags: ['atlhyper'],
          security,
          summary: "Every node's latest metrics with AtlHyper's cluster summary (nodes as an array)",
          description:
            "Nodes from AtlHyper's agent are sent as they came; others get Go's zero values for what they lack, as AtlHyper's web UI expects. " +
            'With an ETag: If-None-Match naming it gets 304 and no body until the data or a node\'s status changes.',
        },
      },
    )
    .get(
      '/api/v2/node-metrics/:nodeName',
      async ({ params, query }) => jsonTextResponse(atlhyperNode((await findNode(reader, query.cluster_id, params.nodeName)).snapshot)),
      {
        params: t.Object({ nodeName: Name }),
        query: AtlHyperQuery,
        response: { 200: NodeMetricsSnapshot, ...errors },
        detail: { tags: ['atlhyper'], security, summary: 'Latest metrics of one node (AtlHyper route), in AtlHyper\'s shape' },
      },
    )
    .get(
      '/api/v2/node-metrics/:nodeName/history',
      async ({ params, query }) => {
        const nodeId = await historyNodeId(reader, query.cluster_id, params.nodeName)
        const range = resolveRange({ hours: atlhyperHours(query.hours) }, tiers)
        const points = await reader.history(nodeId, range.tier, range.fromS, range.toS, range.widthS)
        return atlhyperHistory(params.nodeName, range.startMs, range.endMs, points)
      },
      {
        params: t.Object({ nodeName: Name }),
        query: AtlHyperHistoryQuery,
        response: { 200: AtlHyperHistory, ...errors },
        detail: {
          tags: ['atlhyper'],
          security,
          summary: "Trend points of one node in AtlHyper's MetricsDataPoint shape (every SAMPLE_INTERVAL point of the last hours)",
        },
      },
    )
  routes = () => app.routes
  return app
}

/** Whether an If-None-Match header names this ETag (weak comparison, as for GET). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '')
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}

/** Whether an Accept-Encoding header accepts gzip (q=0 refuses it). */
export function acceptsGzip(header: string | null): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';')
    if (coding !== 'gzip' && coding !== '*') return false
    const q = params.map((param) => param.trim()).find((param) => param.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  })
}

const STREAM_CHUNK_BYTES = 64 * 1024

/** A body read out chunk by chunk, only as fast as the connection takes it. */
function streamed(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.byteLength) return controller.close()
        controller.enqueue(bytes.subarray(offset, (offset += STREAM_CHUNK_BYTES)))
      },
    },
    { highWaterMark: 0 },
  )
}

/** The envelope in the encoding the client takes, from the encoding it came in. */
function envelopeBytes(bytes: Uint8Array, gzipped: boolean, gzipWanted: boolean): Uint8Array {
  if (gzipWanted) return gzipped ? bytes : Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>)
  return gzipped ? Bun.gunzipSync(bytes as Uint8Array<ArrayBuffer>) : bytes
}

/** A latest row's figures under their API names. */
function figuresOf(row: LatestFigures) {
  return { ...Object.fromEntries(FIGURES.map((figure) => [figure.field, row[figure.key]])), disk_max: row.disk_max }
}

function rangeFields(range: HistoryRange) {
  return {
    hours: Math.ceil((range.endMs - range.startMs) / HOUR_MS),
    start: Math.round(range.startMs),
    end: Math.round(range.endMs),
    step: range.widthS,
    tier: range.tier.name,
  }
}

const nodeNotFound = (clusterId: string, nodeName: string) =>
  new HttpError(404, 'node_not_found', `no metrics for node "${nodeName}" in cluster "${clusterId}"`)

async function findNode(reader: ReadStore, clusterId: string, nodeName: string) {
  const node = await reader.latest(clusterId, nodeName)
  if (!node) throw nodeNotFound(clusterId, nodeName)
  return node
}

/** A node's history is found by its identity, which outlives its latest row (hourly points stay after RETENTION). */
async function historyNodeId(reader: ReadStore, clusterId: string, nodeName: string): Promise<number> {
  const id = await reader.nodeId(clusterId, nodeName)
  if (id === undefined) throw nodeNotFound(clusterId, nodeName)
  return id
}
