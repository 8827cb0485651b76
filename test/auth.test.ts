import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import net from 'node:net'
import { ConfigError, loadConfig, missingTokens } from '../src/config/config'
import { postSnapshot, readDb, removeDb, useMaster } from './support/master'
import { spawnMaster } from './support/master-process'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const snapshot = (clusterId: string | undefined) => clusterSnapshot(clusterId, [nodeSnapshot('n1', Date.now() - 1_000)])
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('agent and API tokens', () => {
  const master = useMaster({ AGENT_TOKENS: 'alpha=tok-alpha,beta=tok-beta,*=tok-fleet', API_TOKENS: 'read-1,read-2' })

  const post = (clusterId: string | undefined, headers: Record<string, string>, header = clusterId) =>
    postSnapshot(master.ingest, snapshot(clusterId), { clusterId: header, headers })

  test('no token or a wrong token is 401', async () => {
    for (const response of [await post('alpha', {}), await post('alpha', bearer('tok-alph')), await post('alpha', { authorization: 'tok-alpha' })]) {
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toContain('Bearer')
      expect(await response.json()).toMatchObject({ error: 'unauthorized' })
    }
    const heartbeat = await fetch(`${master.ingest}/agent/heartbeat`, { method: 'POST', headers: { 'x-cluster-id': 'alpha' } })
    expect(heartbeat.status).toBe(401)
  })

  test("a cluster's token cannot write another cluster, by header or by body", async () => {
    const byHeader = await post('beta', bearer('tok-alpha'))
    expect(byHeader.status).toBe(403)
    expect(await byHeader.json()).toEqual({ error: 'forbidden', message: 'this agent may not write cluster "beta"' })
    expect((await post('beta', bearer('tok-alpha'), undefined)).status).toBe(403)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_latest')).toEqual([])
    expect(master.hub.clusterCount).toBe(0)
  })

  test('the right token writes its cluster; *=token writes any', async () => {
    expect((await post('alpha', bearer('tok-alpha'))).status).toBe(200)
    expect((await post('gamma', bearer('tok-fleet'))).status).toBe(200)
    const stored = readDb<{ cluster_id: string }>(master.dbPath, 'SELECT cluster_id FROM node_metrics_latest ORDER BY cluster_id')
    expect(stored).toEqual([{ cluster_id: 'alpha' }, { cluster_id: 'gamma' }])
  })

  test('API_TOKENS guard the query API, before any validation; /healthz and the API document stay open', async () => {
    const url = `${master.api}/api/v2/clusters/alpha/node-metrics`
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: bearer('tok-alpha') })).status).toBe(401)
    expect((await fetch(`${master.api}/api/v2/clusters/alpha/node-metrics/n1/history?hours=0`)).status).toBe(401)
    const allowed = await fetch(url, { headers: bearer('read-2') })
    expect(allowed.status).toBe(200)
    expect(((await allowed.json()) as any).summary.metrics_nodes).toBe(1)
    expect((await fetch(`${master.api}/healthz`)).status).toBe(200)
    expect((await fetch(`${master.api}/swagger/json`)).status).toBe(200)
  })
})

describe('API_TOKENS guard every data route, whatever the request looks like', () => {
  const master = useMaster({ API_TOKENS: 'read' })

  /** A raw HTTP/1.1 GET, so the Host header and the path are exactly what a hostile client sends. */
  const rawGet = (path: string, host: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = net.connect(master.gatewayPort, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
      let text = ''
      socket.on('data', (chunk) => (text += chunk))
      socket.on('end', () => resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }))
      socket.on('error', reject)
    })

  test('every documented /api route and /metrics: 401 without a token, for any Host header, with or without a trailing slash', async () => {
    const postResponse = await postSnapshot(master.ingest, snapshot('c'), { clusterId: 'c' })
    expect(postResponse.status).toBe(200)
    const { paths } = (await (await fetch(`${master.api}/swagger/json`)).json()) as { paths: Record<string, unknown> }
    const guarded = Object.keys(paths).filter((path) => path.startsWith('/api/') || path === '/metrics')
    expect(guarded.length).toBeGreaterThanOrEqual(9)
    const leaks: string[] = []
    for (const template of guarded) {
      const path = template.replace('{clusterId}', 'c').replace('{nodeName}', 'n1')
      const query = path.startsWith('/api/v2/node-metrics') ? '?cluster_id=c' : path.endsWith('/history') && path.includes('/clusters/c/history') ? '?metric=cpu_usage' : ''
      for (const variant of [`${path}${query}`, `${path}/${query}`]) {
        for (const host of ['x', 'ab', 'a:1', '', '%', 'x:99999', '[::1', '127.0.0.1', `127.0.0.1:${master.gatewayPort}`]) {
          const { status, body } = await rawGet(variant, host)
          // Refused, or no data route at all (404/405, the dashboard page): never data without a token, never a 5xx.
          const refused = [401, 404, 405].includes(status) || (status === 200 && body.startsWith('<!doctype html>'))
          if (!refused) leaks.push(`${variant} Host ${JSON.stringify(host)}: ${status}`)
        }
      }
    }
    expect(leaks).toEqual([])
    // A request without a Host header once threw inside the error handler and took the process down;
    // a malformed one got Bun's development error page, with source lines and paths.
    const odd = await rawGet('/nope', '%')
    expect(odd).toEqual({ status: 404, body: JSON.stringify({ error: 'not_found', message: 'no such route' }) })
    expect((await fetch(`${master.api}/healthz`)).status).toBe(200)
  })
})

describe('exposure', () => {
  test('a non-loopback HOST without tokens refuses to start, saying how to set them', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(ConfigError)
    expect(() => loadConfig({ HOST: '0.0.0.0', API_TOKENS: 'r' })).toThrow(/^AGENT_TOKENS: .*AGENT_TOKENS=cluster=token/)
    expect(() => loadConfig({ HOST: '10.1.2.3', AGENT_TOKENS: 'a=b' })).toThrow(/^API_TOKENS: /)
    expect(loadConfig({ HOST: '0.0.0.0', AGENT_TOKENS: 'a=b', API_TOKENS: 'r' }).host).toBe('0.0.0.0')
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '::1']) expect(loadConfig({ HOST: host }).host).toBe(host)
  })

  test('ALLOW_INSECURE=1 overrides, and the start warns about what is open', () => {
    const config = loadConfig({ HOST: '0.0.0.0', ALLOW_INSECURE: '1' })
    expect(missingTokens(config)).toEqual(['AGENT_TOKENS', 'API_TOKENS'])
  })

  test('the process refuses with exit code 2 and the message', () => {
    const run = Bun.spawnSync(['bun', 'run', 'src/main.ts'], { env: { ...process.env, HOST: '0.0.0.0', PORT: '0', INGEST_PORT: '0' } })
    expect(run.exitCode).toBe(2)
    expect(run.stderr.toString()).toContain('ALLOW_INSECURE=1')
  })

  test('tokens never reach the log, rejected or accepted', async () => {
    const master = await spawnMaster({ AGENT_TOKENS: 'alpha=secret-agent-token', API_TOKENS: 'secret-api-token', DB_PATH: `/tmp/nmm-auth-${process.pid}/m.db` })
    try {
      await postSnapshot(master.ingest, snapshot('alpha'), { clusterId: 'alpha', headers: bearer('wrong-secret-guess') })
      await postSnapshot(master.ingest, snapshot('alpha'), { clusterId: 'alpha', headers: bearer('secret-agent-token') })
      await fetch(`${master.api}/api/v2/clusters/alpha/node-metrics`, { headers: bearer('secret-api-token') })
    } finally {
      master.proc.kill('SIGTERM')
      await master.proc.exited
      removeDb(`/tmp/nmm-auth-${process.pid}/m.db`)
    }
    expect(master.output()).toContain('stopped cleanly')
    expect(master.output()).not.toMatch(/secret/)
  })
})
