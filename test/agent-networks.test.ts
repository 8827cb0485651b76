import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import http from 'node:http'
import { ConfigError, loadConfig, missingTokens } from '../src/config/config'
import { atlhyperFixture } from './support/atlhyper'
import { readDb, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * AtlHyper's agent sends no Authorization header: AGENT_ALLOW_NETWORKS admits agents by the
 * address they connect from. The tests connect from other loopback addresses (127.0.0.2, …),
 * which Linux routes to the master like any other client, so the real source-address path is used.
 */
function postFrom(localAddress: string, url: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const request = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', localAddress, headers: { 'content-length': String(body.byteLength), ...headers } },
      (response) => {
        let text = ''
        response.on('data', (chunk) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }))
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

const snapshotOf = (clusterId: string) => Bun.gzipSync(Buffer.from(JSON.stringify(clusterSnapshot(clusterId, [nodeSnapshot('n1', Date.now() - 1_000)]))))
const agentHeaders = (clusterId: string, extra: Record<string, string> = {}) =>
  ({ 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-cluster-id': clusterId, ...extra })

describe('AGENT_ALLOW_NETWORKS beside AGENT_TOKENS', () => {
  const master = useMaster({ AGENT_TOKENS: 'other=tok-other', AGENT_ALLOW_NETWORKS: 'prod=127.0.0.2/32, 127.0.0.3' })
  const post = (from: string, clusterId: string, extra: Record<string, string> = {}) =>
    postFrom(from, `${master.ingest}/agent/snapshot`, snapshotOf(clusterId), agentHeaders(clusterId, extra))

  test('an agent without a token is admitted from its network, for its clusters', async () => {
    expect(await post('127.0.0.2', 'prod')).toEqual({ status: 200, body: { status: 'ok', nodes: 1 } })
    expect(await post('127.0.0.2', 'dev')).toEqual({ status: 403, body: { error: 'forbidden', message: 'this agent may not write cluster "dev"' } })
    expect((await post('127.0.0.3', 'dev')).status).toBe(200) // a network for any cluster
    const heartbeat = await postFrom('127.0.0.2', `${master.ingest}/agent/heartbeat`, new Uint8Array(), { 'x-cluster-id': 'prod' })
    expect(heartbeat.status).toBe(200)
  })

  test('from elsewhere it needs a token, and the answer says how to get in without naming the networks', async () => {
    const refused = await post('127.0.0.1', 'prod')
    expect(refused).toEqual({
      status: 401,
      body: { error: 'unauthorized', message: 'send "Authorization: Bearer <token>" or connect from AGENT_ALLOW_NETWORKS: 127.0.0.1 is not in it (agents)' },
    })
    expect((await post('127.0.0.1', 'other', { authorization: 'Bearer tok-other' })).status).toBe(200)
    // A token that is sent is judged, wherever it comes from.
    expect((await post('127.0.0.2', 'prod', { authorization: 'Bearer wrong' })).status).toBe(401)
  })

  test("AtlHyper's agent, as it posts (no Authorization header), is stored", async () => {
    const body = atlhyperFixture('v3-snapshot').replace('"clusterId":"prod-v3"', '"clusterId":"prod"')
    const answer = await postFrom('127.0.0.2', `${master.ingest}/agent/snapshot`, Bun.gzipSync(Buffer.from(body)), agentHeaders('prod'))
    expect(answer).toEqual({ status: 200, body: { status: 'ok', nodes: 2 } })
    const stored = readDb<{ node_name: string }>(master.dbPath, "SELECT node_name FROM node_metrics_latest WHERE cluster_id = 'prod' ORDER BY node_name")
    expect(stored.map((row) => row.node_name)).toEqual(['n1', 'v3-node-1', 'v3-node-2'])
  })
})

describe('AGENT_ALLOW_NETWORKS alone', () => {
  const master = useMaster({ AGENT_ALLOW_NETWORKS: '127.0.0.4/32' })

  test('is agent auth: an unlisted address is 401, a token is no way around it', async () => {
    const post = (from: string, extra: Record<string, string> = {}) =>
      postFrom(from, `${master.ingest}/agent/snapshot`, snapshotOf('c'), agentHeaders('c', extra))
    expect((await post('127.0.0.4')).status).toBe(200)
    expect(await post('127.0.0.1', { authorization: 'Bearer anything' })).toEqual({
      status: 401, body: { error: 'unauthorized', message: 'connect from AGENT_ALLOW_NETWORKS: 127.0.0.1 is not in it (agents)' },
    })
  })
})

describe('configuration', () => {
  test('it counts as agent auth for a non-loopback HOST', () => {
    const config = loadConfig({ HOST: '0.0.0.0', AGENT_ALLOW_NETWORKS: '10.0.0.0/8,prod=10.1.0.0/16,fd00::/8', API_TOKENS: 'r' })
    expect(missingTokens(config)).toEqual([])
    expect(config.agentNetworks).toEqual([['*', '10.0.0.0/8'], ['prod', '10.1.0.0/16'], ['*', 'fd00::/8']])
  })

  test('a bad network stops the start, naming the variable and the entry', () => {
    expect(() => loadConfig({ AGENT_ALLOW_NETWORKS: '10.0.0.0/33' })).toThrow(ConfigError)
    expect(() => loadConfig({ AGENT_ALLOW_NETWORKS: 'prod=10.0.0.0/8,10.1.2' })).toThrow(/^AGENT_ALLOW_NETWORKS: "10.1.2" is not a network/)
  })
})
