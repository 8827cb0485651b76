import type { OpenAPIV3 } from 'openapi-types'
import { AgentAck, ClusterSnapshot, ErrorBody } from '../model'
import { ClusterSnapshotV3 } from '../model/cluster-snapshot'

/**
 * The agents' routes in the OpenAPI document: they are served on the ingest port (INGEST_PORT),
 * so each names that server. The accept policy and the network rule are stated where an agent's
 * author reads them.
 */
const ACCEPT_POLICY = `Answered **after** the node metrics are committed. As AtlHyper's Go agent posts it: gzipped JSON, \`X-Cluster-ID\`, no \`Authorization\`.

**Accept policy.** Structure is strict — 400 with the JSON path: not JSON, not an object, \`node_metrics\` not a map (or \`otel.metricsNodes\` not a list), a node key that differs from its \`node_name\`, a bad cluster id or node name (the message names the character), a timestamp that is not a time, before 2000 or past MAX_CLOCK_SKEW, a value of the wrong JSON type, arrays past their bounds. **Values never refuse a snapshot**: a figure out of its physical range (a percentage outside 0–100, negative bytes, a temperature outside −60…200 °C, a rate above twice its link speed or 10¹² B/s, a number JSON reads as infinite) is left out of the derived figures (summary, history, /metrics), counted in \`nmm_figures_dropped_total{field,reason}\` and named in \`dropped\`; the node is stored and served as the agent's own bytes (int64 counters survive). \`null\` means absent; unknown fields are kept.

**Network rate of a node** = its physical interfaces: up or of no stated status, not \`physical: false\`, not matching NET_EXCLUDE (veth, cni, cali, flannel, cilium, docker, bridges, tunnels, bonds, VLANs, …); if none is left, the first interface that is up and not lo, else the first.

**Auth.** \`Authorization: Bearer <token>\` from AGENT_TOKENS; an agent that sends none is admitted by its source address when it is in AGENT_ALLOW_NETWORKS (CIDRs, optionally per cluster: \`prod=10.1.0.0/16\`), else 401; a token or network of another cluster is 403.

AtlHyper's model_v3 envelope (\`clusterId\`, \`otel.metricsNodes\`) is recognised and each node mapped onto a NodeMetricsSnapshot.`

const json = (schema: unknown) => ({ 'application/json': { schema: JSON.parse(JSON.stringify(schema)) } })
const error = (description: string) => ({ description, content: json(ErrorBody) })

export function agentPaths(ingestUrl: string): OpenAPIV3.PathsObject {
  const servers = [{ url: ingestUrl, description: 'the ingest port (INGEST_PORT)' }]
  const clusterHeader: OpenAPIV3.ParameterObject = { name: 'X-Cluster-ID', in: 'header', schema: { type: 'string' }, description: "the cluster; falls back to the body's cluster id, and must match it when both are given" }
  return {
    '/agent/snapshot': {
      servers,
      post: {
        tags: ['agent'],
        summary: 'Push a cluster snapshot with its nodes\' metrics',
        description: ACCEPT_POLICY,
        parameters: [clusterHeader, { name: 'Content-Encoding', in: 'header', schema: { type: 'string', enum: ['gzip'] } }],
        requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [ClusterSnapshot, ClusterSnapshotV3].map((schema) => JSON.parse(JSON.stringify(schema))) } } } },
        responses: {
          200: { description: 'committed; `nodes` stored, values left out named in `dropped`', content: json(AgentAck) },
          400: error('not JSON or gzip, or a structural problem (the message names the JSON path)'),
          401: error('no or a wrong token, from an address outside AGENT_ALLOW_NETWORKS'),
          403: error('a token or network of another cluster'),
          413: error('over MAX_BODY, compressed or decompressed'),
          415: error('not application/json, or an encoding other than gzip'),
          408: error('the body came slower than 16 KiB/s after 10 s'),
          429: error('a new cluster past MAX_CLUSTERS (too_many_clusters)'),
          503: error('not committed and never will be (storage failing or behind, the body budget MAX_INFLIGHT_BYTES full, the master stopping before reading it): retry after Retry-After'),
          504: error('unconfirmed: the writer did not confirm it within 60 s or before a stop; it may still be stored, and sending it again is safe'),
        },
      },
    },
    '/agent/heartbeat': {
      servers,
      post: {
        tags: ['agent'], summary: 'Mark the agent alive', parameters: [clusterHeader],
        responses: {
          200: { description: 'noted', content: json({ type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } }) },
          400: error('not JSON, not an object, a cluster_id that is not a string or differs from X-Cluster-ID, or a bad cluster id'),
          401: error('not admitted'),
          403: error('a token or network of another cluster'),
          408: error('the body came slower than 16 KiB/s after 10 s'),
          413: error('over the heartbeat limit of 64 KiB'),
          415: error('not application/json, or an encoding other than gzip'),
          429: error('a new cluster past MAX_CLUSTERS (too_many_clusters)'),
          503: error('the body budget (MAX_INFLIGHT_BYTES) is full or the master is stopping: retry after Retry-After'),
        },
      },
    },
    '/agent/commands': {
      servers,
      get: {
        tags: ['agent'], summary: "AtlHyper's command long-poll: held up to 30 s, then 204 (this master sends no commands)", parameters: [clusterHeader],
        responses: { 204: { description: "no command (AtlHyper's answer)" }, 401: error('not admitted') },
      },
    },
  }
}
