import { expect, setDefaultTimeout, test } from 'bun:test'
import { getJson, postSnapshot, readDb, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** A small seeded generator, so a failure replays the same bodies. */
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff
    return seed / 0x80000000
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Path = (string | number)[]

function leafAndGroupPaths(value: Json, path: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [path]
  const children = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value)
  return [path, ...children.flatMap(([key, child]) => leafAndGroupPaths(child, [...path, key]))]
}

function setAt(target: any, path: Path, value: Json) {
  const parent = path.slice(0, -1).reduce((node, key) => node[key], target)
  parent[path.at(-1)!] = value
}

/**
 * Values of another JSON type than `value`, all of which the schema must refuse at its place.
 * Not null: null is "absent" everywhere but in the node's name and timestamp. In the optional
 * extra groups (psi, tcp, …) a leaf may be any scalar or a one-level object, so only an array is wrong there.
 */
function wrongValuesFor(value: Json, path: Path): Json[] {
  const required = path.length === 1 && (path[0] === 'node_name' || path[0] === 'timestamp')
  if (path[0] === 'psi' && path.length === 2) return [[]]
  if (typeof value === 'number') return ['12', true, [], ...(required ? [null] : [])]
  if (typeof value === 'string') return [false, {}, [], ...(required ? [null] : [])]
  if (Array.isArray(value)) return [{}, 'list', 5]
  return ['object', 5, []]
}

const deep = (depth: number, leaf: Json): Json => {
  let value = leaf
  for (let i = 0; i < depth; i++) value = { d: value }
  return value
}

function malformedBodies(validNode: () => ReturnType<typeof nodeSnapshot>): [string, string | Uint8Array<ArrayBuffer>][] {
  const base = () => validNode().timestamp
  const next = random(42)
  const envelope = (node: any) => clusterSnapshot('fuzz', [node])
  const bodies: [string, string | Uint8Array<ArrayBuffer>][] = []

  const text = JSON.stringify(envelope(validNode()))
  for (let i = 0; i < 140; i++) bodies.push([`truncated ${i}`, text.slice(0, Math.floor(next() * (text.length - 1)))])

  const node = validNode()
  for (const path of leafAndGroupPaths(node as unknown as Json)) {
    if (path.length === 0) continue
    const current = path.reduce<any>((value, key) => value[key], node)
    for (const value of wrongValuesFor(current, path)) {
      const mutated = structuredClone(node)
      setAt(mutated, path, value)
      bodies.push([`wrong type at ${path.join('.')} = ${JSON.stringify(value)}`, JSON.stringify(envelope(mutated))])
    }
  }

  const huge = (length: number) => 'x'.repeat(length)
  bodies.push(['huge node name', JSON.stringify(envelope({ ...validNode(), node_name: huge(254) }))])
  bodies.push(['huge cluster id', JSON.stringify({ cluster_id: huge(300), node_metrics: {} })])
  bodies.push(['body past MAX_BODY', JSON.stringify({ ...envelope(validNode()), pad: huge(17 * 1024 * 1024) })])
  bodies.push(['too many cores', JSON.stringify(envelope({ ...validNode(), cpu: { per_core: Array(4097).fill(1) } }))])
  bodies.push(['too many processes', JSON.stringify(envelope({ ...validNode(), processes: Array(1001).fill({ pid: 1 }) }))])
  bodies.push(['a null disk', JSON.stringify(envelope({ ...validNode(), disks: [null] as any }))])
  bodies.push(['a node that is a list', JSON.stringify({ cluster_id: 'fuzz', node_metrics: { n1: [validNode()] } })])
  bodies.push(['a node that is a number', JSON.stringify({ cluster_id: 'fuzz', node_metrics: { n1: 5 } })])
  bodies.push(['model_v3 nodes that are not a list', JSON.stringify({ clusterId: 'fuzz', otel: { metricsNodes: { n1: {} } } })])
  bodies.push(['model_v3 node without a name', JSON.stringify({ clusterId: 'fuzz', otel: { metricsNodes: [{ timestamp: base() }] } })])
  bodies.push(['model_v3 node twice', JSON.stringify({ clusterId: 'fuzz', otel: { metricsNodes: [{ nodeName: 'a', timestamp: base() }, { nodeName: 'a', timestamp: base() }] } })])
  bodies.push(['model_v3 cpu of the wrong type', JSON.stringify({ clusterId: 'fuzz', otel: { metricsNodes: [{ nodeName: 'a', timestamp: base(), cpu: [] }] } })])

  for (const depth of [10, 100, 1_000, 10_000]) {
    bodies.push([`deep psi ${depth}`, JSON.stringify(envelope({ ...validNode(), psi: deep(depth, 1) as any }))])
    if (depth >= 100) bodies.push([`deep unknown field ${depth}`, JSON.stringify(envelope({ ...validNode(), extra: deep(depth, 1) } as any))])
    bodies.push([`deep array ${depth}`, `${'['.repeat(depth)}${']'.repeat(depth)}`])
    bodies.push([`deep unclosed ${depth}`, '{"a":'.repeat(depth)])
  }

  for (const name of ['nœud', '节点-1', '🔥', 'a/b', '..', 'x\u0000y', "n'; DROP TABLE node_metrics_latest;--", 'a b', '']) {
    bodies.push([`node name ${JSON.stringify(name)}`, JSON.stringify(envelope({ ...validNode(), node_name: name }))])
    bodies.push([`node key ${JSON.stringify(name)}`, JSON.stringify({ cluster_id: 'fuzz', node_metrics: { [name]: { ...validNode(), node_name: name } } })])
  }
  bodies.push(['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])])
  bodies.push(['lone surrogate in a name', JSON.stringify(envelope({ ...validNode(), node_name: '\uD800' }))])

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    bodies.push([`${key} as node key`, `{"cluster_id":"fuzz","node_metrics":{"${key}":${JSON.stringify({ ...validNode(), node_name: key })}}}`])
    bodies.push([`${key} as cluster id`, JSON.stringify({ cluster_id: key, node_metrics: {} })])
  }
  bodies.push(['__proto__ at the top', `{"__proto__":{"polluted":true},"cluster_id":"fuzz","node_metrics":{}}`])
  bodies.push(['__proto__ in a group', text.replace('"cpu":{', '"cpu":{"__proto__":{"polluted":true},')])
  bodies.push(['__proto__ in node metrics', text.replace('"node_metrics":{', '"node_metrics":{"__proto__":{"polluted":true},')])

  for (const literal of ['', 'null', 'true', '42', '"text"', '[]', '[{}]', '{}garbage', 'NaN', '{"node_metrics": Infinity}']) {
    bodies.push([`literal ${JSON.stringify(literal)}`, literal])
  }
  bodies.push(['node_metrics as array', JSON.stringify({ cluster_id: 'fuzz', node_metrics: [validNode()] })])
  bodies.push(['timestamp far in the future', JSON.stringify(envelope({ ...validNode(), timestamp: Date.now() + 3_600_000 }))])
  bodies.push(['timestamp before 2000', JSON.stringify(envelope({ ...validNode(), timestamp: '1999-12-31T23:59:59Z' }))])
  bodies.push(['timestamp not a date', JSON.stringify(envelope({ ...validNode(), timestamp: '2026-13-45T99:99:99Z' }))])
  bodies.push(['huge number', '{"cluster_id":"fuzz","node_metrics":{"n1":{"node_name":"n1","timestamp":1e999}}}'])
  return bodies
}

const master = useMaster({ SAMPLE_INTERVAL: '1s' })

test('500+ malformed bodies: every answer a 4xx JSON error, the server alive, the file intact, only valid data stored', async () => {
  const base = Math.floor(Date.now() / 1_000) * 1_000 - 120_000
  let validCount = 0
  const validNode = () => nodeSnapshot('n1', base, { cpu: 10 })
  const bodies = malformedBodies(validNode)
  expect(bodies.length).toBeGreaterThanOrEqual(500)

  const sentValid: ReturnType<typeof nodeSnapshot>[] = []
  const postValid = async () => {
    const node = nodeSnapshot('n1', base + ++validCount * 1_000, { cpu: validCount % 100 })
    const response = await postSnapshot(master.ingest, clusterSnapshot('fuzz', [node]), { clusterId: 'fuzz' })
    expect(response.status).toBe(200)
    sentValid.push(node)
  }

  const failures: string[] = []
  for (let start = 0; start < bodies.length; start += 8) {
    await Promise.all(
      bodies.slice(start, start + 8).map(async ([name, body]) => {
        const response = await fetch(`${master.ingest}/agent/snapshot`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-cluster-id': 'fuzz' },
          body: Bun.gzipSync(typeof body === 'string' ? Buffer.from(body) : new Uint8Array(body)),
        })
        const text = await response.text()
        let json: any
        try {
          json = JSON.parse(text)
        } catch {}
        const ok = response.status >= 400 && response.status < 500 && typeof json?.error === 'string' && typeof json?.message === 'string'
        if (!ok) failures.push(`${name}: ${response.status} ${text.slice(0, 200)}`)
      }),
    )
    if (start % 80 === 0) await postValid()
  }
  expect(failures).toEqual([])
  expect(({} as any).polluted).toBeUndefined()

  const health = await getJson(`${master.api}/healthz`)
  expect(health).toEqual({ status: 200, body: { status: 'ok', writer: 'up', reads: 'ok', clusters: 1 } })
  expect(readDb(master.dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])

  // Stored: exactly the last valid snapshot, and one history point per valid one (one per second).
  const latest = readDb<{ cluster_id: string; node_name: string; snapshot: string }>(master.dbPath, 'SELECT cluster_id, node_name, CAST(snapshot AS TEXT) AS snapshot FROM node_metrics_latest')
  expect(latest).toEqual([{ cluster_id: 'fuzz', node_name: 'n1', snapshot: JSON.stringify(sentValid.at(-1)) }])
  const history = readDb<{ cpu: number }>(master.dbPath, 'SELECT cpu_sum AS cpu FROM node_metrics_history ORDER BY bucket_s')
  expect(history.map((point) => point.cpu)).toEqual(sentValid.map((node) => node.cpu.usage_percent * 100)) // % × 100
})
