import { deriveFigures, type Drop } from '../figures/derive'
import { timestampMs } from '../time/rfc3339'
import { HttpError } from '../http/errors'
import { NodeMetricsSnapshot } from '../model'
import { NodeMetricsV3 } from '../model/v3'
import { encodeRows, type EncodedRows, type NodeRow } from '../storage/node-rows'
import { parseExact } from '../json/exact-numbers'
import { mapV3Node, v3SourcePath } from './model-v3'
import { nameProblem, shownName } from './names'
import { MAX_NODE_DEPTH, nodeSpans, TooDeep } from './node-spans'
import { compileAgentSchema } from './schema-check'

const nodeSchema = compileAgentSchema(NodeMetricsSnapshot)
const nodeSchemaV3 = compileAgentSchema(NodeMetricsV3)
const utf8 = new TextEncoder()

/** Timestamps before this are a broken clock, not history. */
const EARLIEST_MS = Date.UTC(2000, 0, 1)
export const MAX_NODES_PER_SNAPSHOT = 10_000

export interface AcceptedSnapshot {
  clusterId: string
  /** the rows for the writer */
  rows: EncodedRows
  nodes: number
  /** values left out of the derived figures, their paths from the top of the body (the snapshot itself is stored as sent) */
  dropped: Drop[]
}

export interface AcceptSettings {
  maxClockSkewMs: number
  /** interfaces left out of the node network rate (NET_EXCLUDE) */
  netExclude: RegExp
}

/** The body as JSON text for parsing, and as bytes, from which each node's JSON is sliced. */
export interface AgentJson {
  text: string
  bytes: Uint8Array
}

/** A node found in the body: where, its parsed form, and its JSON as it will be stored. */
interface FoundNode {
  name: string
  /** JSON path of the node in the body */
  path: string
  node: NodeMetricsSnapshot
  json(): Uint8Array
  /** where a value named by its path in `node` is in the body, under `path` (mapped nodes differ) */
  sourcePath?(path: string): string
}

const invalid = (message: string) => new HttpError(400, 'invalid_body', message)
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Turns an agent's body into what the master stores, or throws the 400 that names the problem.
 * The structure is strict: a body that is not a JSON object, a `node_metrics` that is not a map,
 * a node under another name, a bad name or timestamp. Values are not: a figure out of range is
 * dropped from the derived figures and named, and the node is stored as the agent sent it.
 * AtlHyper's model_v3 envelopes (`clusterId`, `otel.metricsNodes`) are recognised and mapped.
 * Nothing is kept from a snapshot that fails any check.
 */
export function acceptSnapshot(body: AgentJson, headerClusterId: string | null, settings: AcceptSettings, now = Date.now()): AcceptedSnapshot {
  const envelope = parseEnvelope(body.text)
  const v3 = (envelope.node_metrics === undefined || envelope.node_metrics === null) && !('cluster_id' in envelope) && ('clusterId' in envelope || 'otel' in envelope)
  const idField = v3 ? 'clusterId' : 'cluster_id'
  const bodyClusterId = envelope[idField] ?? undefined
  if (bodyClusterId !== undefined && typeof bodyClusterId !== 'string') throw invalid(`/${idField}: must be a string`)
  checkTimestampField(envelope, v3 ? 'fetchedAt' : 'fetched_at')
  const clusterId = resolveClusterId(headerClusterId, bodyClusterId, `/${idField}`)

  const rows: NodeRow[] = []
  const dropped: Drop[] = []
  for (const found of v3 ? v3Nodes(envelope, body.text) : v2Nodes(envelope, body.bytes)) {
    const ts = timestampMs(found.node.timestamp)
    if (!Number.isFinite(ts)) throw invalid(`${found.path}/timestamp: not an RFC 3339 time with a zone, nor epoch milliseconds`)
    if (ts < EARLIEST_MS) throw invalid(`${found.path}/timestamp: not a time after 2000-01-01`)
    if (ts > now + settings.maxClockSkewMs) throw invalid(`${found.path}/timestamp: ${ts - now} ms in the future (agent clock skew)`)
    const figures = deriveFigures(found.node, settings)
    for (const drop of figures.dropped) dropped.push({ ...drop, path: `${found.path}${found.sourcePath?.(drop.path) ?? drop.path}` })
    rows.push({ cluster: clusterId, node: found.name, snapshotMs: ts, values: figures.values, ...figures.extras, json: found.json() })
  }
  return { clusterId, rows: encodeRows(rows), nodes: rows.length, dropped }
}

/** model_v2: `node_metrics` maps node name → NodeMetricsSnapshot; each node is stored as its own bytes. */
function* v2Nodes(envelope: Record<string, unknown>, bytes: Uint8Array): Generator<FoundNode> {
  const map = envelope.node_metrics
  if (map === undefined || map === null) return
  if (!isObject(map)) throw invalid('/node_metrics: must be an object mapping node names to NodeMetricsSnapshot')
  const names = Object.keys(map)
  if (names.length === 0) return
  if (names.length > MAX_NODES_PER_SNAPSHOT) throw invalid(`/node_metrics: ${names.length} nodes; at most ${MAX_NODES_PER_SNAPSHOT} per snapshot`)
  let spans: ReturnType<typeof nodeSpans>
  try {
    spans = nodeSpans(bytes)
  } catch (error) {
    if (error instanceof TooDeep) throw invalid(`/node_metrics/${error.node}: nested deeper than ${MAX_NODE_DEPTH} levels`)
    throw error
  }
  for (const name of names) {
    const problem = nameProblem(name)
    if (problem) throw invalid(`/node_metrics: the node name ${shownName(name)}: ${problem}`)
    const path = `/node_metrics/${name}`
    const node = map[name]
    if (node === null) continue // Go's nil pointer: no metrics for this node in this snapshot
    if (isObject(node) && node.node_name !== name) {
      const wrong = typeof node.node_name === 'string' ? `${shownName(node.node_name)} differs from its key ${shownName(name)}` : `must be the node's name, ${shownName(name)}`
      throw invalid(`${path}/node_name: ${wrong}`)
    }
    checkNodeShape(node, path)
    const span = spans?.get(name)
    if (!span) throw new Error(`node ${name} was parsed but not found in the body`)
    yield { name, path, node, json: () => bytes.subarray(span.start, span.end) }
  }
}

/**
 * model_v3: `otel.metricsNodes` is a list of camelCase nodes, mapped onto NodeMetricsSnapshot.
 * Figures come from the parsed numbers; the stored JSON from a second parse that keeps numbers
 * JSON.parse cannot hold exactly as the agent wrote them.
 */
function* v3Nodes(envelope: Record<string, unknown>, text: string): Generator<FoundNode> {
  const otel = envelope.otel
  if (otel === undefined || otel === null) return
  if (!isObject(otel)) throw invalid('/otel: must be an object')
  const list = otel.metricsNodes
  if (list === undefined || list === null) return
  if (!Array.isArray(list)) throw invalid('/otel/metricsNodes: must be an array of node metrics')
  if (list.length > MAX_NODES_PER_SNAPSHOT) throw invalid(`/otel/metricsNodes: ${list.length} nodes; at most ${MAX_NODES_PER_SNAPSHOT} per snapshot`)
  const seen = new Set<string>()
  let exact: unknown[] | undefined
  const exactItem = (index: number) => (exact ??= (parseExact(text) as { otel: { metricsNodes: unknown[] } }).otel.metricsNodes)[index]
  for (const [index, item] of list.entries()) {
    if (item === null) continue
    const path = `/otel/metricsNodes/${index}`
    if (!nodeSchemaV3.check(item)) throw invalid(`${path}${nodeSchemaV3.problem(item)}`)
    if (deeperThan(item, MAX_NODE_DEPTH)) throw invalid(`${path}: nested deeper than ${MAX_NODE_DEPTH} levels`)
    const problem = nameProblem(item.nodeName)
    if (problem) throw invalid(`${path}/nodeName: the node name ${shownName(item.nodeName)}: ${problem}`)
    if (seen.has(item.nodeName)) throw invalid(`${path}/nodeName: node ${shownName(item.nodeName)} appears twice`)
    seen.add(item.nodeName)
    const node = mapV3Node(item)
    yield { name: item.nodeName, path, node, json: () => utf8.encode(JSON.stringify(mapV3Node(exactItem(index) as typeof item))), sourcePath: v3SourcePath }
  }
}

/** Whether a parsed value nests more than `levels` objects and arrays deep. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (levels === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value)) if (deeperThan(child, levels - 1)) return true
  return false
}

function checkNodeShape(node: unknown, path: string): asserts node is NodeMetricsSnapshot {
  if (!isObject(node)) throw invalid(`${path}: must be a NodeMetricsSnapshot object`)
  if (!nodeSchema.check(node)) throw invalid(`${path}${nodeSchema.problem(node)}`)
}

function checkTimestampField(envelope: Record<string, unknown>, field: string): void {
  const value = envelope[field]
  if (value === undefined || value === null) return
  if (!Number.isFinite(timestampMs(value))) throw invalid(`/${field}: not an RFC 3339 time with a zone, nor epoch milliseconds`)
}

const PROTO_KEY = /"__proto__"\s*:/

function parseEnvelope(text: string): Record<string, unknown> {
  // JSON.parse makes such a key a harmless own property, but nothing legitimate sends one, and
  // refusing it keeps it away from any code that might one day merge objects.
  if (text.includes('__proto__') && PROTO_KEY.test(text)) throw invalid('the key "__proto__" is not allowed')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`)
  }
  if (!isObject(body)) throw invalid('/: the body must be a JSON object (a ClusterSnapshot)')
  return body
}

/** The header wins, the body's cluster id is the fallback, and the two must agree when both are given. */
export function resolveClusterId(header: string | null, body: string | undefined, bodyPath = '/cluster_id'): string {
  const fromHeader = header?.trim() || undefined
  if (fromHeader !== undefined) {
    const problem = nameProblem(fromHeader)
    if (problem) throw new HttpError(400, 'invalid_cluster_id', `X-Cluster-ID ${shownName(fromHeader)}: ${problem}`)
  }
  if (fromHeader !== undefined && body !== undefined && fromHeader !== body) {
    throw new HttpError(400, 'cluster_id_mismatch', `X-Cluster-ID "${fromHeader}" differs from the body's ${bodyPath.slice(1)} ${shownName(body)}`)
  }
  if (fromHeader === undefined && body !== undefined) {
    const problem = nameProblem(body)
    if (problem) throw new HttpError(400, 'invalid_cluster_id', `${bodyPath} ${shownName(body)}: ${problem}`)
  }
  const clusterId = fromHeader ?? body
  if (clusterId === undefined) {
    throw new HttpError(400, 'missing_cluster_id', 'no cluster id: send the X-Cluster-ID header or cluster_id in the body')
  }
  return clusterId
}
