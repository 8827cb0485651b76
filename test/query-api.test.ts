import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { gatewayApp, type GatewayDeps } from '../src/gateway/app'
import { PUBLIC_ROUTES } from '../src/gateway/public-routes'
import { bucketCount, checkFleetSize, fleetMaxPoints, MAX_FLEET_VALUES, resolveRange } from '../src/gateway/range'
import { historyTiers } from '../src/storage/tiers'
import { getJson, postSnapshot, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const TOKEN = 'q'
const auth = { authorization: `Bearer ${TOKEN}` }

/** The gateway app over stub dependencies: its route table, and requests answered without a database. */
function stubGateway(overrides: Partial<GatewayDeps> = {}, nodes = 0) {
  const calls: string[] = []
  const rows = Array.from({ length: nodes }, (_, index) => ({ node_name: `n${index}`, snapshot_ms: Date.now(), received_ms: Date.now() }))
  const reader = {
    listFigures: () => rows,
    nodeCount: () => rows.length,
    fleetHistory: () => { calls.push('fleetHistory'); return new Map() },
  } as unknown as GatewayDeps['reader']
  const app = gatewayApp({
    reader, status: {} as GatewayDeps['status'], metrics: async () => '', knownClusters: () => [], tiers: historyTiers({ sampleIntervalMs: 300_000, retentionMs: 30 * 86_400_000, retentionHourlyMs: 365 * 86_400_000 }),
    dataVersion: async () => '1', apiTokens: [TOKEN], ingestUrl: () => 'http://127.0.0.1:1', corsOrigins: [], health: async () => ({ status: 'ok' as const, writer: 'up' as const, reads: 'ok' as const, clusters: 0 }), envelope: async () => ({}),
    alerting: { alerts: {} as GatewayDeps['alerting']['alerts'], setRules: async () => ({}) },
    ...overrides,
  })
  return { app, calls }
}

describe('API_TOKENS by the route that matched: every route of the app and its variants', () => {
  const master = useMaster({ API_TOKENS: TOKEN })

  /** The spellings of a path a client might try to reach a route's data by. */
  const variants = (path: string) => {
    const segments = path.split('/')
    return [
      path,
      `${path}/`,
      `/${path}`,
      path.replace(/\/([^/]+)$/, '//$1'),
      path.toUpperCase(),
      segments.map((segment) => (segment ? `%${segment.charCodeAt(0).toString(16).toUpperCase()}${segment.slice(1)}` : segment)).join('/'),
      path.replace(/\//g, '%2F').replace(/^%2F/, '/'),
    ]
  }

  test('without a token: a guarded route and each spelling of it is 401 or 404, GET and HEAD; public routes stay open', async () => {
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', [nodeSnapshot('n1', Date.now() - 1_000)]), { clusterId: 'c' })).status).toBe(200)
    const { app } = stubGateway()
    const routes = app.routes.filter((route) => route.method !== 'OPTIONS')
    expect(routes.length).toBeGreaterThanOrEqual(15)
    const leaks: string[] = []
    for (const route of routes) {
      const path = route.path.replace(':clusterId', 'c').replace(':nodeName', 'n1').replace(':file', 'app.js')
      const query = '?cluster_id=c&metric=cpu_usage'
      if (PUBLIC_ROUTES.has(route.path)) {
        const open = await fetch(`${master.api}${path}`)
        if (open.status !== 200) leaks.push(`public ${path}: ${open.status}`)
        continue
      }
      const exact = await fetch(`${master.api}${path}${query}`)
      if (exact.status !== 401) leaks.push(`${path}: ${exact.status}, not 401`)
      for (const variant of variants(path)) {
        for (const method of ['GET', 'HEAD']) {
          const response = await fetch(`${master.api}${variant}${query}`, { method })
          if (![401, 404].includes(response.status)) leaks.push(`${method} ${variant}: ${response.status}`)
        }
      }
    }
    expect(leaks).toEqual([])
  })

  test('an empty node name is no route: 404, not the node list', async () => {
    for (const path of ['/api/v2/clusters/c/node-metrics/', '/api/v2/node-metrics/?cluster_id=c', '/api/v2/clusters/c/node-metrics//history']) {
      const { status, body } = await getJsonWith(`${master.api}${path}`)
      expect(status).toBe(404)
      expect(body).toEqual({ error: 'not_found', message: 'no such route' })
    }
  })
})

const getJsonWith = async (url: string) => {
  const response = await fetch(url, { headers: auth })
  return { status: response.status, body: (await response.json()) as any }
}

describe('query parameters are what the spec says', () => {
  const master = useMaster({ API_TOKENS: TOKEN })
  const history = () => `${master.api}/api/v2/clusters/c/node-metrics/n1/history`

  test('integers are decimal digits within their bounds: anything else is 400 naming the parameter', async () => {
    expect((await postSnapshot(master.ingest, clusterSnapshot('c', [nodeSnapshot('n1', Date.now() - 60_000)]), { clusterId: 'c' })).status).toBe(200)
    for (const [name, good, bad] of [['hours', '5', ['0x10', '1e1', '%205', '5.0', '+5', '0', '721', '', '05a']], ['max_points', '50', ['0x10', '1e1', '50.0', '1', '10001']]] as const) {
      expect((await getJsonWith(`${history()}?${name}=${good}`)).status).toBe(200)
      for (const value of bad) {
        const { status, body } = await getJsonWith(`${history()}?${name}=${value}`)
        expect({ value, status, error: body.error }).toEqual({ value, status: 400, error: 'invalid_request' })
        expect(body.message).toContain(`'${name}'`)
      }
    }
  })

  test('the OpenAPI document gives them as integers with their bounds and defaults', async () => {
    const { body } = await getJson(`${master.api}/swagger/json`)
    const parameter = (path: string, name: string) => body.paths[path].get.parameters.find((p: { name: string }) => p.name === name).schema
    expect(parameter('/api/v2/clusters/{clusterId}/node-metrics/{nodeName}/history', 'hours')).toEqual({ type: 'integer', minimum: 1, maximum: 720, default: 24 })
    expect(parameter('/api/v2/clusters/{clusterId}/node-metrics/{nodeName}/history', 'max_points')).toEqual({ type: 'integer', minimum: 2, maximum: 10_000 })
    expect(parameter('/api/v2/clusters/{clusterId}/history', 'max_points')).toEqual({ type: 'integer', minimum: 2, maximum: 10_000, default: 300 })
    expect(parameter('/api/v2/clusters/{clusterId}/history', 'hours')).toEqual({ type: 'integer', minimum: 1, maximum: 720, default: 24 })
    // AtlHyper's hours is what AtlHyper reads: any text.
    expect(parameter('/api/v2/node-metrics/{nodeName}/history', 'hours')).toEqual({ type: 'string' })
  })

  test("the documented default of hours does not count as given: hours with start is still refused, start alone is not", async () => {
    const start = Date.now() - 3_600_000
    expect((await getJsonWith(`${history()}?start=${start}`)).status).toBe(200)
    expect((await getJsonWith(`${history()}?hours=24&start=${start}`)).body.message).toMatch(/either hours or start/)
  })

  test('start/end: a bare number below 10^11 is epoch seconds, above it milliseconds; RFC 3339 as before', async () => {
    const ms = Math.floor(Date.now() / 1000) * 1000 - 3_600_000
    const asSeconds = await getJsonWith(`${history()}?start=${ms / 1000}`)
    const asMs = await getJsonWith(`${history()}?start=${ms}`)
    const asText = await getJsonWith(`${history()}?start=${new Date(ms).toISOString()}`)
    expect(asSeconds.body.start).toBe(ms)
    expect(asMs.body.start).toBe(ms)
    expect(asText.body.start).toBe(ms)
  })

  test("AtlHyper's hours keeps Go's Atoi reading: anything but a positive int64 is 24, past 720 it is 720", async () => {
    const { atlhyperHours } = await import('../src/model/atlhyper')
    expect(['0x10', '1e1', ' 5', '5.0', '0', '-3', '9223372036854775808', undefined].map(atlhyperHours)).toEqual([24, 24, 24, 24, 24, 24, 24, 24])
    expect(['5', '+5', '007', '721', '9223372036854775807'].map(atlhyperHours)).toEqual([5, 5, 7, 720, 720])
    const { status, body } = await getJsonWith(`${master.api}/api/v2/node-metrics/n1/history?cluster_id=c&hours=0x10`)
    expect(status).toBe(200)
    expect(Date.parse(body.end) - Date.parse(body.start)).toBe(24 * 3_600_000)
  })
})

describe('fleet history is capped', () => {
  test('nodes × points past MAX_FLEET_VALUES is refused before the query runs', async () => {
    const { app, calls } = stubGateway({}, 1_000)
    const response = await app.handle(new Request('http://localhost/api/v2/clusters/c/history?metric=cpu_usage&hours=720&step=300', { headers: auth }))
    expect(response.status).toBe(400)
    const body = (await response.json()) as any
    expect(body.error).toBe('too_many_points')
    expect(body.message).toMatch(/1000 nodes × 864\d points .* narrow the range .* max_points .* step/)
    expect(calls).toEqual([]) // decided before reading anything
    // The default (no step, no max_points) fits the cap on any cluster up to 100,000 nodes.
    const fits = await app.handle(new Request('http://localhost/api/v2/clusters/c/history?metric=cpu_usage&hours=720', { headers: auth }))
    expect(fits.status).toBe(200)
    expect(calls).toEqual(['fleetHistory'])
  })

  test('the count is of buckets the range touches; the default points shrink on large clusters', () => {
    const tiers = historyTiers({ sampleIntervalMs: 60_000, retentionMs: 30 * 86_400_000, retentionHourlyMs: 365 * 86_400_000 })
    const now = 1_800_000_000_000
    const range = resolveRange({ hours: 24 }, tiers, now)
    expect(bucketCount(range)).toBe(1_441) // the bucket that starts at `end` too
    expect(fleetMaxPoints({}, 10)).toBe(300)
    expect(fleetMaxPoints({}, 1_000)).toBe(200)
    expect(fleetMaxPoints({ step: '1m' }, 1_000)).toBeUndefined()
    expect(fleetMaxPoints({ max_points: 50 }, 1_000)).toBe(50)
    expect(() => checkFleetSize(Math.floor(MAX_FLEET_VALUES / 1_441), range)).not.toThrow()
    expect(() => checkFleetSize(Math.floor(MAX_FLEET_VALUES / 1_441) + 1, range)).toThrow(/too|more than 200000/)
  })

  describe('on a real master with 700 nodes at SAMPLE_INTERVAL 1s', () => {
    const master = useMaster({ SAMPLE_INTERVAL: '1s' })
    const fleet = (query: string) => getJson(`${master.api}/api/v2/clusters/big/history?metric=cpu_usage&${query}`)

    test('past the cap: 400 too_many_points; within it, and by default, an answer', async () => {
      // Two snapshots a second apart inside one 13 s group of the default answer below (groups are
      // epoch-aligned): one point per node, whenever the test runs.
      const groupStart = Math.floor((Date.now() - 30_000) / 13_000) * 13_000
      for (const offset of [1_000, 2_000]) {
        const nodes = Array.from({ length: 700 }, (_, index) => nodeSnapshot(`n${index}`, groupStart + offset, { cpu: index % 100 }))
        expect((await postSnapshot(master.ingest, clusterSnapshot('big', nodes), { clusterId: 'big' })).status).toBe(200)
      }
      const refused = await fleet('hours=1&step=10') // 361 buckets × 700 = 252,700
      expect(refused.status).toBe(400)
      expect(refused.body.error).toBe('too_many_points')
      expect(refused.body.message).toContain('max_points')
      expect((await fleet('hours=720&step=1')).status).toBe(400)
      const within = await fleet('hours=1&step=15') // 241 × 700 = 168,700
      expect(within.status).toBe(200)
      expect(Object.keys(within.body.nodes)).toHaveLength(700)
      // Default: 300 points would be 210,000 values, so floor(200,000 / 700) = 285 points, step ceil(3600 / 284).
      const byDefault = await fleet('hours=1')
      expect(byDefault.status).toBe(200)
      expect(byDefault.body.step).toBe(Math.ceil(3_600 / 284))
      expect(byDefault.body.nodes.n5).toHaveLength(1)
    })
  })
})
