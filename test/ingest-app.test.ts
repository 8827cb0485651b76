import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { ingestApp, type HubLink, type IngestRuntime, type IngestSettings } from '../src/ingest/app'
import { AbortLog } from '../src/ingest/aborts'
import { InflightBudget } from '../src/ingest/inflight'
import { PendingAnswers } from '../src/ingest/pending'
import { HandlersInFlight, STOP_ANSWER_WAIT_MS, stopServer } from '../src/ingest/shutdown'
import { DEFAULT_NET_EXCLUDE } from '../src/figures/network'
import { eventually, rawConnect, slowUpload, type RawClient } from './support/raw-client'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * The ingest app alone, on a random port, with a fake DataHub: what the agent gets when the hub
 * refuses, never answers, or when the app is stopped under hostile clients.
 */

const MiB = 1024 * 1024
const settings: IngestSettings = {
  maxBodyBytes: MiB,
  maxInflightBytes: 2 * MiB,
  maxClockSkewMs: 300_000,
  agentTokens: [],
  agentNetworks: [],
  netExclude: DEFAULT_NET_EXCLUDE,
}

/** A hub that answers nothing by itself: each test says what it answers. */
function fakeHub(overrides: Partial<HubLink> = {}): HubLink & { pending: PendingAnswers } {
  const pending = new PendingAnswers()
  return {
    pending,
    submit: (_, giveUp) => pending.ask(() => {}, giveUp),
    heartbeat: (_, __, giveUp) => pending.ask(() => {}, giveUp),
    rejected: () => {},
    acknowledged: () => {},
    dropped: () => {},
    ...overrides,
  }
}

let running: { stop(): Promise<unknown> } | undefined
const clients: RawClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.stop()
  running = undefined
})

function serve(hub: HubLink, overrides: Partial<IngestSettings> = {}, runtime: Partial<IngestRuntime> = {}) {
  // Aborts are logged nowhere unless a test listens for them.
  const app = ingestApp({ ...settings, ...overrides }, hub, { aborts: new AbortLog(() => {}), ...runtime }).listen({ hostname: '127.0.0.1', port: 0, development: false })
  running = { stop: () => app.stop(true) }
  return { app, url: `http://127.0.0.1:${app.server!.port}` }
}

const snapshotBody = () => JSON.stringify(clusterSnapshot('c1', [nodeSnapshot('n1', Date.now() - 1_000)]))
const post = (url: string, path: string, body: string) =>
  fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-cluster-id': 'c1' } })

describe('a request never waits forever for the DataHub', () => {
  test('a snapshot the hub never answers gets 504 unconfirmed (never 200, and not 503: it may still be stored) at the deadline', async () => {
    const hub = fakeHub()
    const { url } = serve(hub, { answerDeadlineMs: 200 })
    const response = await post(url, '/agent/snapshot', snapshotBody())
    expect(response.status).toBe(504)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(await response.json()).toEqual({
      error: 'unconfirmed', message: 'the master did not confirm this within 0.2 s: it may still be stored; sending it again is safe',
    })
    expect(hub.pending.size).toBe(0)
    // an answer that comes after all is dropped, not delivered to anyone
    hub.pending.answer(1, { ok: true })
  })

  test('so does a heartbeat', async () => {
    const hub = fakeHub()
    const { url } = serve(hub, { answerDeadlineMs: 200 })
    const response = await post(url, '/agent/heartbeat', '')
    expect(response.status).toBe(504)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(hub.pending.size).toBe(0)
  })
})

describe('heartbeats are answered by the DataHub', () => {
  test('ok: 200 only once the hub said so', async () => {
    let told: [string, number] | undefined
    const hub = fakeHub({ heartbeat: async (clusterId, at) => ((told = [clusterId, at]), { ok: true }) })
    const { url } = serve(hub)
    const before = Date.now()
    const response = await post(url, '/agent/heartbeat', '{"cluster_id":"c1"}')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    expect(told![0]).toBe('c1')
    expect(told![1]).toBeGreaterThanOrEqual(before)
  })

  test("a refusal's status, code, message and Retry-After reach the agent", async () => {
    const refusal = { ok: false, status: 429, code: 'too_many_clusters', message: 'this master takes at most 2 clusters (MAX_CLUSTERS)', retryAfterSeconds: 30 }
    const { url } = serve(fakeHub({ heartbeat: async () => refusal }))
    const response = await post(url, '/agent/heartbeat', '')
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('30')
    expect(await response.json()).toEqual({ error: 'too_many_clusters', message: refusal.message })
  })

  test('a refusal without status or code is 503 unavailable', async () => {
    const { url } = serve(fakeHub({ heartbeat: async () => ({ ok: false, message: 'not now' }) }))
    const response = await post(url, '/agent/heartbeat', '')
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toEqual({ error: 'unavailable', message: 'not now' })
  })

  test('a snapshot refusal carries its status and code the same way', async () => {
    const { url } = serve(fakeHub({ submit: async () => ({ ok: false, status: 429, code: 'too_many_clusters', message: 'full', retryAfterSeconds: 60 }) }))
    const response = await post(url, '/agent/snapshot', snapshotBody())
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('60')
    expect(await response.json()).toEqual({ error: 'too_many_clusters', message: 'full' })
  })
})

describe('MAX_INFLIGHT_BYTES', () => {
  test('declared bodies are reserved before they are read, and every lease is given back when their clients hang up', async () => {
    const budget = new InflightBudget(settings.maxInflightBytes)
    const { url } = serve(fakeHub({ submit: async () => ({ ok: true }) }), {}, { budget })
    for (let i = 0; i < 2; i++) clients.push(await slowUpload(url, { declared: MiB, send: 1_000 }))
    await eventually(() => budget.bytes === 2 * MiB, 'both declared bodies reserved')
    // full: a new body is refused before a byte of it is read; so is a heartbeat
    const refused = await post(url, '/agent/snapshot', snapshotBody())
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('2')
    expect(((await refused.json()) as { error: string; message: string }).message).toContain('MAX_INFLIGHT_BYTES')
    expect((await post(url, '/agent/heartbeat', '')).status).toBe(503)
    expect(budget.bytes).toBe(2 * MiB)

    for (const client of clients.splice(0)) client.close()
    await eventually(() => budget.bytes === 0, 'the budget back at 0 after the aborts')
    expect((await post(url, '/agent/snapshot', snapshotBody())).status).toBe(200)
    expect(budget.bytes).toBe(0)
  })

  test('a chunked body is counted as it arrives; past the budget it is cut off with 503', async () => {
    const budget = new InflightBudget(settings.maxInflightBytes)
    const { url } = serve(fakeHub({ submit: async () => ({ ok: true }) }), {}, { budget })
    clients.push(await slowUpload(url, { send: 900_000 }))
    await eventually(() => budget.bytes === 900_000, 'the chunks counted')
    clients.push(await slowUpload(url, { declared: MiB, send: 10 }))
    await eventually(() => budget.bytes === 900_000 + MiB, 'the declared body reserved')
    // 100 KB more than the budget holds; without counting the chunks it would have been read.
    const refused = await post(url, '/agent/snapshot', ' '.repeat(200_000))
    expect(refused.status).toBe(503)
    // A second chunked upload is cut off once its chunks pass the budget.
    const cut = await slowUpload(url, { send: 300_000 })
    clients.push(cut)
    await eventually(() => cut.status() === 503, 'the chunked upload past the budget answered 503')
    expect(cut.received()).toContain('MAX_INFLIGHT_BYTES')
    await eventually(() => budget.bytes === 900_000 + MiB, 'the refused upload given back')
    for (const client of clients.splice(0)) client.close()
    await eventually(() => budget.bytes === 0, 'the budget back at 0')
  })

  test('inflated bytes count: a small gzip body that inflates past what the budget has left is refused', async () => {
    const budget = new InflightBudget(settings.maxInflightBytes)
    const { url } = serve(fakeHub({ submit: async () => ({ ok: true }) }), {}, { budget })
    clients.push(await slowUpload(url, { declared: MiB, send: 10 }), await slowUpload(url, { declared: 900_000, send: 10 }))
    await eventually(() => budget.bytes === MiB + 900_000, 'both reserved')
    // 50 KB of gzip fits; the 500 KB it inflates to does not.
    const bomb = Bun.gzipSync(Buffer.from(`{"pad":"${' '.repeat(500_000)}"}`))
    const response = await fetch(`${url}/agent/snapshot`, {
      method: 'POST',
      body: bomb,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-cluster-id': 'c1' },
    })
    expect(response.status).toBe(503)
    expect(budget.bytes).toBe(MiB + 900_000)
  })
})

describe('client aborts', () => {
  test('are counted and logged as one line per burst, not as unexpected errors', async () => {
    const lines: string[] = []
    const aborts = new AbortLog((line) => lines.push(line))
    const budget = new InflightBudget(settings.maxInflightBytes * 100)
    const { url } = serve(fakeHub(), { maxInflightBytes: settings.maxInflightBytes * 100 }, { aborts, budget })
    const uploads = await Promise.all(Array.from({ length: 20 }, () => slowUpload(url, { declared: 100_000, send: 1_000 })))
    await eventually(() => budget.bytes === 20 * 100_000, 'all uploads reading')
    for (const upload of uploads) upload.close()
    await eventually(() => lines.length > 0, 'the burst logged', 3_000)
    expect(lines).toEqual(['20 agent uploads were aborted by their clients'])
  })
})

describe('stopping the app', () => {
  test('answers what waits for its commit, cuts off unread bodies and idle connections, in well under 10 s', async () => {
    const hub = fakeHub({ submit: (_, giveUp) => hub.pending.ask(() => {}, giveUp) })
    const stopping = new AbortController()
    const abandon = new AbortController()
    const handlers = new HandlersInFlight()
    const { app, url } = serve(hub, {}, { stopping: stopping.signal, abandon: abandon.signal, handlers })
    const slow = await Promise.all(Array.from({ length: 10 }, () => slowUpload(url, { declared: 100_000, send: 1_000 })))
    const idle = await rawConnect(url)
    idle.write(`GET /agent/commands HTTP/1.1\r\nHost: x\r\n\r\n`) // a held command poll
    const halfHeaders = await rawConnect(url)
    halfHeaders.write('POST /agent/snapshot HTTP/1.1\r\nHost: x\r\n')
    clients.push(...slow, idle, halfHeaders)
    const waiting = post(url, '/agent/snapshot', snapshotBody())
    await eventually(() => hub.pending.size === 1, 'the snapshot waiting for its commit')

    const started = performance.now()
    const stopped = stopServer(app.server, handlers, { stopping, abandon })
    await Bun.sleep(100)
    hub.pending.answer(1, { ok: true, stored: 1 }) // the commit arrives after the stop began
    await stopped
    const tookMs = performance.now() - started
    expect((await waiting).status).toBe(200)
    expect(tookMs).toBeLessThan(2_000)
    for (const client of [...slow, idle, halfHeaders]) await client.closed
    // the unread bodies were told why (they were never acknowledged), the poll got its 204
    for (const upload of slow) expect(upload.status()).toBe(503)
    expect(slow[0]!.received()).toContain('"error":"stopping"')
    expect(idle.status()).toBe(204)
  })

  test('a commit that never comes is answered 504 unconfirmed at the stop deadline', async () => {
    const hub = fakeHub()
    const stopping = new AbortController()
    const abandon = new AbortController()
    const handlers = new HandlersInFlight()
    const { app, url } = serve(hub, {}, { stopping: stopping.signal, abandon: abandon.signal, handlers })
    const waiting = post(url, '/agent/snapshot', snapshotBody())
    await eventually(() => hub.pending.size === 1, 'the snapshot waiting for its commit')
    const started = performance.now()
    await stopServer(app.server, handlers, { stopping, abandon })
    expect(performance.now() - started).toBeLessThan(STOP_ANSWER_WAIT_MS + 1_500)
    const response = await waiting
    expect(response.status).toBe(504)
    expect(await response.json()).toEqual({
      error: 'unconfirmed', message: 'the master is stopping before its writer confirmed this: it may still be stored; sending it again is safe',
    })
    expect(hub.pending.size).toBe(0)
  }, 15_000)
})
