import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * AtlHyper's Go agent, as far as the wire goes: fixtures marshalled by Go's encoding/json from
 * the agent's own structs (test/fixtures/atlhyper/README.md), posted the way its master_gateway.go
 * posts them — gzipped JSON, X-Cluster-ID, and no Authorization header.
 */
const FIXTURES = join(import.meta.dir, '../fixtures/atlhyper')

export type AtlHyperFixture = 'v2-steady-nvme' | 'v2-first-after-restart' | 'v2-vm-no-sensors' | 'v2-node-exporter' | 'v3-snapshot'

/** Go's RFC3339Nano in the agent's zone (+08:00), as in the fixtures. */
const GO_TIME = /"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{3})(\d{6})\+08:00"/g

/**
 * The fixture's text with every Go timestamp moved by the same amount, so that its newest is
 * `newestMs`: still nine fraction digits, still +08:00, every other byte as Go wrote it.
 */
export function atlhyperFixture(name: AtlHyperFixture, newestMs = Date.now() - 1_000): string {
  const text = readFileSync(join(FIXTURES, `${name}.json`), 'utf8')
  const times = [...text.matchAll(GO_TIME)].map(([, seconds, ms]) => Date.parse(`${seconds}.${ms}+08:00`))
  const shift = newestMs - Math.max(...times)
  return text.replace(GO_TIME, (_, seconds: string, ms: string, rest: string) => {
    const shifted = new Date(Date.parse(`${seconds}.${ms}+08:00`) + shift + 8 * 3_600_000).toISOString() // as +08:00 wall time
    return `"${shifted.slice(0, 23)}${rest}+08:00"`
  })
}

/** POST /agent/snapshot as AtlHyper's agent does it. */
export function postLikeAtlHyper(ingest: string, text: string, clusterId: string): Promise<Response> {
  return fetch(`${ingest}/agent/snapshot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'X-Cluster-ID': clusterId },
    body: Bun.gzipSync(Buffer.from(text)),
  })
}

/**
 * A node's JSON text exactly as Go wrote it into the body, found by Go's own layout (compact,
 * map keys sorted, `summary` after `node_metrics`) rather than by the master's scanner.
 */
export function goNodeText(body: string, name: string, allNames: readonly string[]): string {
  const marker = (node: string) => `${JSON.stringify(node)}:{"node_name":${JSON.stringify(node)}`
  const start = body.indexOf(marker(name)) + JSON.stringify(name).length + 1
  const next = allNames.map((other) => body.indexOf(`,${marker(other)}`)).filter((at) => at > start)
  const end = next.length > 0 ? Math.min(...next) : body.indexOf('},"summary":', start)
  return body.slice(start, end)
}
