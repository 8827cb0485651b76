import { swagger } from '@elysiajs/swagger'
import { Elysia, t } from 'elysia'
import { ApiAuth } from '../auth/tokens'
import { HttpError, jsonResponse, jsonTextResponse, methodsForPath, renderError } from '../http/errors'
import { summarize } from '../metrics/summary'
import { ClusterNodeMetrics, ErrorBody, Health, HistoryQuery, Name, NodeHistory, NodeMetricsSnapshot } from '../model'
import type { MetricsReader } from '../storage/metrics-reader'
import { concatBytes } from '../storage/node-rows'
import { ListCache } from './list-cache'

export interface GatewayDeps {
  reader: MetricsReader
  /** changes whenever a cluster's stored data may have changed (DataHub.dataVersion) */
  dataVersion(clusterId: string): string
  /** API_TOKENS; empty: the query API is open */
  apiTokens: string[]
  health(): Health
}

const HOUR_MS = 3_600_000
const LIST_CACHE_BYTES = 64 * 1024 * 1024
const utf8 = new TextEncoder()

const ClusterParams = t.Object({ clusterId: Name })
const NodeParams = t.Object({ clusterId: Name, nodeName: Name })
const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }
const security = [{ bearer: [] }]

/**
 * The dashboards' port (DESIGN §5). Stored snapshots are JSON text already, so answers are
 * assembled from that text instead of parsing and re-serialising every node.
 */
export function gatewayApp({ reader, dataVersion, apiTokens, health }: GatewayDeps) {
  const auth = new ApiAuth(apiTokens)
  const lists = new ListCache(LIST_CACHE_BYTES)
  const app = new Elysia()
    .use(
      swagger({
        path: '/swagger',
        provider: 'swagger-ui',
        exclude: ['/swagger', '/swagger/json'],
        documentation: {
          info: {
            title: 'Node metrics master',
            version: '1.0.0',
            description: 'Latest node metrics, cluster summaries and trend history pushed by cluster agents.',
          },
          tags: [{ name: 'node-metrics' }, { name: 'health' }],
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'one of API_TOKENS, when set' } },
          },
        },
      }),
    )
    .onError(({ code, error, request }) => renderError(code, error, () => methodsForPath(app.routes, request)))
    // Transform runs before validation: a caller without a token learns nothing from a 400.
    .onTransform(({ request, path }) => {
      if (path.startsWith('/api/')) auth.check(request.headers.get('authorization'))
    })
    .get('/healthz', () => health(), {
      response: { 200: Health },
      detail: { tags: ['health'], summary: 'Liveness and writer status' },
    })
    .get(
      '/api/v2/clusters/:clusterId/node-metrics',
      ({ params }) => {
        const version = dataVersion(params.clusterId)
        const cached = lists.get(params.clusterId, version)
        if (cached) return jsonTextResponse(cached)
        const rows = reader.listLatest(params.clusterId)
        const parts: Uint8Array[] = [utf8.encode(`{"summary":${JSON.stringify(summarize(rows))},"nodes":{`)]
        rows.forEach((row, index) => parts.push(utf8.encode(`${index === 0 ? '' : ','}${JSON.stringify(row.node_name)}:`), row.snapshot))
        parts.push(utf8.encode('}}'))
        const body = concatBytes(parts)
        lists.set(params.clusterId, version, body)
        return jsonTextResponse(body)
      },
      {
        params: ClusterParams,
        response: { 200: ClusterNodeMetrics, ...errors },
        detail: {
          tags: ['node-metrics'],
          security,
          summary: 'Latest metrics of every node of a cluster, with the cluster summary',
          description: 'An unknown cluster answers an empty node map and a zeroed summary.',
        },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/node-metrics/:nodeName',
      ({ params }) => jsonTextResponse(findNode(reader, params.clusterId, params.nodeName).snapshot),
      {
        params: NodeParams,
        response: { 200: NodeMetricsSnapshot, ...errors },
        detail: { tags: ['node-metrics'], security, summary: 'Latest metrics of one node' },
      },
    )
    .get(
      '/api/v2/clusters/:clusterId/node-metrics/:nodeName/history',
      ({ params, query }) => {
        const node = findNode(reader, params.clusterId, params.nodeName)
        const hours = query.hours ?? 24
        const history = reader.history(node.id, Date.now() - hours * HOUR_MS)
        return jsonResponse({ node_name: params.nodeName, hours, points: history.length, history } satisfies NodeHistory)
      },
      {
        params: NodeParams,
        query: HistoryQuery,
        response: { 200: NodeHistory, ...errors },
        detail: { tags: ['node-metrics'], security, summary: 'Trend points of one node over the last hours, ascending' },
      },
    )
  return app
}

function findNode(reader: MetricsReader, clusterId: string, nodeName: string) {
  const node = reader.latest(clusterId, nodeName)
  if (!node) throw new HttpError(404, 'node_not_found', `no metrics for node "${nodeName}" in cluster "${clusterId}"`)
  return node
}
