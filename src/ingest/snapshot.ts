import { TypeCompiler } from '@sinclair/typebox/compiler'
import { HttpError } from '../http/errors'
import { deriveFigures, timestampMs } from '../metrics/derive'
import { ClusterSnapshot, Name } from '../model'
import { encodeRows, type EncodedRows, type NodeRow } from '../storage/node-rows'

const checkSnapshot = TypeCompiler.Compile(ClusterSnapshot)
const checkName = TypeCompiler.Compile(Name)
const utf8 = new TextEncoder()

/** Timestamps before this are a broken clock, not history. */
const EARLIEST_MS = Date.UTC(2000, 0, 1)

export interface AcceptedSnapshot {
  clusterId: string
  /** the rows for the writer */
  rows: EncodedRows
  nodes: number
  /** node names, one per line */
  nodeNames: string
}

export interface SnapshotLimits {
  maxClockSkewMs: number
}

/**
 * Turns an agent's body into what the master stores, or throws the 400 that names the problem.
 * Nothing is kept from a snapshot that fails any check.
 */
export function acceptSnapshot(
  body: string,
  headerClusterId: string | null,
  limits: SnapshotLimits,
  now = Date.now(),
): AcceptedSnapshot {
  const snapshot = parseJson(body)
  checkNodeNames(snapshot)
  if (!checkSnapshot.Check(snapshot)) {
    const first = checkSnapshot.Errors(snapshot).First()!
    throw new HttpError(400, 'invalid_body', `${first.path || '/'}: ${first.message}`)
  }
  const clusterId = resolveClusterId(headerClusterId, snapshot.cluster_id)
  const rows: NodeRow[] = []
  for (const [key, node] of Object.entries(snapshot.node_metrics ?? {})) {
    const path = `/node_metrics/${key}`
    if (node.node_name !== key) {
      throw new HttpError(400, 'invalid_body', `${path}/node_name: "${node.node_name}" differs from its key "${key}"`)
    }
    const ts = timestampMs(node.timestamp)
    if (!Number.isFinite(ts) || ts < EARLIEST_MS) {
      throw new HttpError(400, 'invalid_body', `${path}/timestamp: not a time after 2000-01-01`)
    }
    if (ts > now + limits.maxClockSkewMs) {
      throw new HttpError(400, 'invalid_body', `${path}/timestamp: ${ts - now} ms in the future (agent clock skew)`)
    }
    rows.push({ cluster: clusterId, node: key, ts, json: utf8.encode(JSON.stringify(node)), ...deriveFigures(node) })
  }
  return { clusterId, rows: encodeRows(rows), nodes: rows.length, nodeNames: rows.map((row) => row.node).join('\n') }
}

const PROTO_KEY = /"__proto__"\s*:/

/** The schema would call a bad node name an "unexpected property"; say what is wrong with it instead. */
function checkNodeNames(snapshot: unknown): void {
  const nodes = (snapshot as { node_metrics?: unknown } | null)?.node_metrics
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) return
  for (const key of Object.keys(nodes)) {
    if (checkName.Check(key)) continue
    const shown = JSON.stringify(String(key).slice(0, 80))
    throw new HttpError(400, 'invalid_body', `/node_metrics: ${shown} is not ${Name.description}`)
  }
}

function parseJson(body: string): unknown {
  // JSON.parse makes such a key a harmless own property, but nothing legitimate sends one, and
  // refusing it keeps it away from any code that might one day merge objects.
  if (body.includes('__proto__') && PROTO_KEY.test(body)) {
    throw new HttpError(400, 'invalid_body', 'the key "__proto__" is not allowed')
  }
  try {
    return JSON.parse(body)
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`)
  }
}

/** The header wins, the body's cluster_id is the fallback, and the two must agree when both are given. */
export function resolveClusterId(header: string | null, body: string | undefined): string {
  const fromHeader = header?.trim() || undefined
  if (fromHeader !== undefined && !checkName.Check(fromHeader)) {
    throw new HttpError(400, 'invalid_cluster_id', 'X-Cluster-ID must be 1–253 characters of [A-Za-z0-9._:-]')
  }
  if (fromHeader !== undefined && body !== undefined && fromHeader !== body) {
    throw new HttpError(400, 'cluster_id_mismatch', `X-Cluster-ID "${fromHeader}" differs from the body's cluster_id "${body}"`)
  }
  const clusterId = fromHeader ?? body
  if (clusterId === undefined) {
    throw new HttpError(400, 'missing_cluster_id', 'no cluster id: send the X-Cluster-ID header or cluster_id in the body')
  }
  return clusterId
}
