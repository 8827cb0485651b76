import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { getJson, postSnapshot, readDb, removeDb, type RunningMaster, startTestMaster, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

describe('rejected snapshots get a 400 JSON error naming the problem, and write nothing', () => {
  let master: RunningMaster
  const valid = () => clusterSnapshot('c1', [nodeSnapshot('n1', Date.now() - 1_000)])

  beforeAll(async () => {
    master = await startTestMaster({ MAX_BODY: '1MiB' })
  })
  afterAll(async () => {
    await master.stop()
    removeDb(master.dbPath)
  })

  const cases: [string, () => Promise<Response>, number, string, RegExp][] = [
    ['invalid JSON', () => postSnapshot(master.ingest, '{"cluster_id": "c1", "node_metrics": {', { clusterId: 'c1' }),
      400, 'invalid_json', /not valid JSON/],
    ['a body that fails the schema', () => {
      const body = valid() as any
      body.node_metrics.n1.cpu.usage_percent = 'high'
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /\/node_metrics\/n1\/cpu\/usage_percent/],
    ['a node without its timestamp', () => {
      const body = valid() as any
      delete body.node_metrics.n1.timestamp
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /\/node_metrics\/n1\/timestamp/],
    ['a node keyed by another name', () => {
      const body = valid() as any
      body.node_metrics.other = body.node_metrics.n1
      delete body.node_metrics.n1
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /differs from its key "other"/],
    ['a missing cluster id', () => postSnapshot(master.ingest, clusterSnapshot(undefined, [nodeSnapshot('n1', Date.now())])),
      400, 'missing_cluster_id', /X-Cluster-ID/],
    ['a header/body cluster mismatch', () => postSnapshot(master.ingest, valid(), { clusterId: 'c2' }),
      400, 'cluster_id_mismatch', /"c2" differs from the body's cluster_id "c1"/],
    ['a body that is not gzip although it says so', () =>
      fetch(`${master.ingest}/agent/snapshot`, { method: 'POST', body: JSON.stringify(valid()),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-cluster-id': 'c1' } }),
      400, 'invalid_gzip', /not valid gzip/],
    ['a wrong Content-Type', () => postSnapshot(master.ingest, valid(), { clusterId: 'c1', headers: { 'content-type': 'text/plain' } }),
      415, 'unsupported_media_type', /application\/json/],
    ['a wrong Content-Encoding', () => postSnapshot(master.ingest, valid(), { clusterId: 'c1', gzip: false, headers: { 'content-encoding': 'br' } }),
      415, 'unsupported_media_type', /Content-Encoding must be gzip/],
    ['a group that is not an object', () => {
      const body = valid() as any
      body.node_metrics.n1.memory = 'plenty'
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /\/node_metrics\/n1\/memory: expected an object or null/],
    ['a list that is not an array', () => {
      const body = valid() as any
      body.node_metrics.n1.disks = { '/': 30 }
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /\/node_metrics\/n1\/disks: expected an array or null/],
    ['a node nested deeper than any agent nests (its readers could not parse the node list)', () => {
      const body = valid() as any
      body.node_metrics.n1.extra = JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`)
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /^\/node_metrics\/n1: nested deeper than 32 levels$/],
    ['more disks than a machine has (the message gives the limit)', () => {
      const body = valid() as any
      body.node_metrics.n1.disks = Array.from({ length: 1025 }, () => body.node_metrics.n1.disks[0])
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /^\/node_metrics\/n1\/disks: Expected array length to be less or equal to 1024$/],
    ['a node whose node_name is null', () => {
      const body = valid() as any
      body.node_metrics.n1.node_name = null
      return postSnapshot(master.ingest, body, { clusterId: 'c1' })
    }, 400, 'invalid_body', /^\/node_metrics\/n1\/node_name: must be the node's name, "n1"$/],
    ['a body that is not an object', () => postSnapshot(master.ingest, '[]', { clusterId: 'c1' }),
      400, 'invalid_body', /^\/: the body must be a JSON object/],
    ['node_metrics that is not a map', () => postSnapshot(master.ingest, { cluster_id: 'c1', node_metrics: [] }, { clusterId: 'c1' }),
      400, 'invalid_body', /^\/node_metrics: must be an object mapping node names/],
    ['a cluster id with a space', () => postSnapshot(master.ingest, valid(), { clusterId: 'my cluster' }),
      400, 'invalid_cluster_id', /^X-Cluster-ID "my cluster": character U\+0020 at position 3 is not allowed; use A-Z a-z 0-9/],
    ['a body cluster id with a slash', () => postSnapshot(master.ingest, { ...valid(), cluster_id: 'team/prod' }),
      400, 'invalid_cluster_id', /^\/cluster_id "team\/prod": character "\/" \(U\+002F\) at position 5 is not allowed/],
    ['a timestamp without a zone', () => postSnapshot(master.ingest,
      clusterSnapshot('c1', [nodeSnapshot('n1', '2026-11-27T20:59:18.482913675')]), { clusterId: 'c1' }),
      400, 'invalid_body', /\/node_metrics\/n1\/timestamp: not an RFC 3339 time with a zone/],
    ['a timestamp beyond MAX_CLOCK_SKEW', () => postSnapshot(master.ingest,
      clusterSnapshot('c1', [nodeSnapshot('n1', Date.now() + 600_000)]), { clusterId: 'c1' }),
      400, 'invalid_body', /\/node_metrics\/n1\/timestamp: .* in the future/],
    ['a node name with a slash', () => postSnapshot(master.ingest,
      clusterSnapshot('c1', [nodeSnapshot('a/b', Date.now())]), { clusterId: 'c1' }),
      400, 'invalid_body', /\/node_metrics: the node name "a\/b": character "\/" \(U\+002F\) at position 2 is not allowed/],
    ['more than 10,000 nodes', () => postSnapshot(master.ingest,
      clusterSnapshot('c1', Array.from({ length: 10_001 }, (_, i) => ({ node_name: `n${i}`, timestamp: Date.now() }) as any)),
      { clusterId: 'c1' }),
      400, 'invalid_body', /\/node_metrics: 10001 nodes; at most 10000 per snapshot/],
    ['a body past MAX_BODY before decompression', () => postSnapshot(master.ingest,
      JSON.stringify({ ...valid(), pad: 'x'.repeat(1_100_000) }),
      { clusterId: 'c1', gzip: false }),
      413, 'body_too_large', /the request body exceeds the limit of 1048576 bytes/],
    ['a gzip bomb past MAX_BODY', () => postSnapshot(master.ingest, JSON.stringify({ ...valid(), pad: ' '.repeat(2_000_000) }), { clusterId: 'c1' }),
      413, 'body_too_large', /decompressed body exceeds the limit of 1048576 bytes/],
  ]

  for (const [name, send, status, code, message] of cases) {
    test(name, async () => {
      const response = await send()
      expect(response.status).toBe(status)
      expect(response.headers.get('content-type')).toContain('application/json')
      const body = await response.json()
      expect(body).toEqual({ error: code, message: expect.stringMatching(message) })
    })
  }

  test('nothing of the rejected requests was written or kept, and the server still serves', async () => {
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toEqual([])
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_history')).toEqual([])
    expect(master.hub.clusterCount).toBe(0)
    const accepted = await postSnapshot(master.ingest, valid(), { clusterId: 'c1' })
    expect(accepted.status).toBe(200)
    expect(readDb(master.dbPath, 'SELECT node_name FROM node_metrics_latest')).toEqual([{ node_name: 'n1' }])
  })
})

describe('query parameters', () => {
  const master = useMaster()
  beforeAll(async () => {
    const response = await postSnapshot(master.ingest, clusterSnapshot('c1', [nodeSnapshot('n1', Date.now())]), { clusterId: 'c1' })
    expect(response.status).toBe(200)
  })

  for (const hours of ['0', '721', '1.5', 'abc']) {
    test(`hours=${hours} is a 400 that gives the allowed range`, async () => {
      const { status, body } = await getJson(`${master.api}/api/v2/clusters/c1/node-metrics/n1/history?hours=${hours}`)
      expect(status).toBe(400)
      expect(body).toEqual({ error: 'invalid_request', message: expect.stringContaining('an integer from 1 to 720') })
    })
  }

  test('an unknown route is a 404 JSON error', async () => {
    const { status, body } = await getJson(`${master.api}/api/v3/nothing`)
    expect(status).toBe(404)
    expect(body.error).toBe('not_found')
  })
})

describe('wrong methods', () => {
  const master = useMaster()

  test('a known route with the wrong method is a 405 JSON error with Allow, on both ports', async () => {
    const cases: [string, string, string][] = [
      // A GET route answers HEAD as well, so Allow names both.
      [`${master.api}/api/v2/clusters/c1/node-metrics`, 'DELETE', 'GET, HEAD'],
      [`${master.api}/api/v2/clusters/c1/node-metrics/n1/history`, 'POST', 'GET, HEAD'],
      [`${master.ingest}/agent/snapshot`, 'GET', 'POST'],
      [`${master.ingest}/agent/heartbeat`, 'PUT', 'POST'],
    ]
    for (const [url, method, allow] of cases) {
      const response = await fetch(url, { method })
      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe(allow)
      expect(await response.json()).toEqual({ error: 'method_not_allowed', message: `this route takes ${allow}` })
    }
    const unknown = await fetch(`${master.ingest}/agent/other`, { method: 'POST' })
    expect(unknown.status).toBe(404)
  })
})
