import { DEFAULT_NET_EXCLUDE } from '../src/figures/network'
import { nodeSpans } from '../src/ingest/node-spans'
import { acceptSnapshot } from '../src/ingest/snapshot'
import { clusterBody, fleet } from '../src/simulator/fleet'

const utf8 = new TextEncoder()
const SETTINGS = { maxClockSkewMs: 300_000, netExclude: new RegExp(DEFAULT_NET_EXCLUDE) }

/** Mean µs per call of `work` over `iterations`, after a warm-up. */
function microseconds(work: () => unknown, iterations: number): number {
  for (let i = 0; i < Math.max(50, iterations / 5); i++) work()
  const started = performance.now()
  for (let i = 0; i < iterations; i++) work()
  return ((performance.now() - started) * 1000) / iterations
}

/**
 * The ingest thread's work per snapshot, on the bodies the ingest benchmark posts: the whole
 * accept (parse, checks, figures, rows), and within it the node JSON that is stored — sliced out
 * of the body as the master does, against re-serialising each parsed node (JSON.stringify and
 * UTF-8 encoding), which is what the master did before nodes were stored as the agent's bytes.
 */
export function acceptCost(perSnapshot: number, iterations: number) {
  const [{ clusterId, nodes }] = fleet(1, perSnapshot) as [{ clusterId: string; nodes: ReturnType<typeof fleet>[number]['nodes'] }]
  const text = clusterBody(clusterId, nodes.map((node) => node.snapshot(Date.now() - 1_000)))
  const bytes = utf8.encode(text)
  const parsed = Object.values(JSON.parse(text).node_metrics as Record<string, unknown>)
  const accept = microseconds(() => acceptSnapshot({ text, bytes }, clusterId, SETTINGS), iterations)
  const sliced = microseconds(() => [...nodeSpans(bytes)!.values()].map((span) => bytes.subarray(span.start, span.end)), iterations)
  const reserialised = microseconds(() => parsed.map((node) => utf8.encode(JSON.stringify(node))), iterations)
  return {
    nodesPerSnapshot: perSnapshot,
    bodyBytes: bytes.byteLength,
    acceptMicrosPerSnapshot: Number(accept.toFixed(1)),
    nodeJsonSlicedMicros: Number(sliced.toFixed(1)),
    nodeJsonReserialisedMicros: Number(reserialised.toFixed(1)),
    ratio: Number((reserialised / sliced).toFixed(2)),
  }
}
