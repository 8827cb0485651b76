import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, spyOn, test } from 'bun:test'
import { DataHub } from '../src/datahub/datahub'
import { COMMAND_TIMEOUT_MS } from '../src/datahub/redis-link'
import { RedisSharedState } from '../src/datahub/redis-state'
import { envelopeKey, INDEX_KEY, stateKey } from '../src/datahub/redis-scripts'
import type { HubToGateway } from '../src/gateway/messages'
import { ClusterDirectory } from '../src/gateway/directory'
import { FleetStatus } from '../src/gateway/status'
import { encodeRows } from '../src/storage/node-rows'
import { engineOrSkip, startRedis, type Engine } from './support/engines'
import { waitFor } from './support/wait'

// A real Redis server, started and halted.
setDefaultTimeout(30_000)

/**
 * Two DataHubs sharing one real Redis (REDIS_URL), with the writer and the gateway played by the
 * test: every receive time is chosen, so what the shared state measures is exact.
 */

const RETENTION_MS = 86_400_000
const hasRedis = engineOrSkip('redis')
let redis: Engine | undefined

beforeAll(async () => {
  if (hasRedis) redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

/** A DataHub as the master wires it, with its own shared state on the test's Redis and a settable clock. */
async function hubOn(url: string, maxClusters = 100, checkMs?: number) {
  const clock = { now: 1_000_000 }
  const gateway: HubToGateway[] = []
  const clusters = new ClusterDirectory()
  const envelopes = new Map<number, { envelope?: Uint8Array; gzipped?: boolean }>()
  const shared = new RedisSharedState(url, { retentionMs: RETENTION_MS, now: () => clock.now, checkMs })
  const answers: { request: number; ok: boolean }[] = []
  const hub = new DataHub(
    {
      toIngest: (_, message) => void (message.type === 'answer' && answers.push({ request: message.request, ok: message.ok })),
      toWriter: () => true,
      toGateway: (message) => {
        if (message.type === 'clusters') clusters.apply(message.views)
        if (message.type === 'envelope') envelopes.set(message.request, { envelope: message.envelope, gzipped: message.gzipped })
        gateway.push(message)
      },
      shared,
    },
    { writeQueueLimit: 1_000, maxClusters, retentionMs: RETENTION_MS, agentExpireMs: 45_000, now: () => clock.now },
  )
  await shared.start((event) => hub.onShared(event))
  let request = 0
  /** the DataHub numbers the batches it hands the writer 1, 2, …: the played writer confirms them so */
  let batch = 0
  const status = new FleetStatus(clusters, { staleAfterMs: undefined, agentExpireMs: 45_000 })
  return {
    hub, shared, clock, clusters, status, answers,
    /** a snapshot received at `receivedMs` and committed by the (played) writer at once */
    post(clusterId: string, receivedMs: number, text: string, gzipped = false) {
      const envelope = gzipped ? Bun.gzipSync(Buffer.from(text)) : new TextEncoder().encode(text)
      hub.onIngest({ type: 'snapshot', request: ++request, clusterId, receivedMs, envelope, gzipped, rows: encodeRows([]), nodes: 1 })
      hub.onWriter({ type: 'committed', batches: [++batch], stored: [1], rows: 1, ms: 1 })
      hub.flush()
      return envelope
    },
    heartbeat(clusterId: string, atMs: number) {
      clock.now = atMs
      hub.onIngest({ type: 'heartbeat', request: ++request, clusterId, at: atMs })
      hub.flush()
    },
    /** what the gateway gets when a client asks for the cluster's envelope */
    async envelope(clusterId: string) {
      const asked = ++request
      hub.onGateway({ type: 'envelope', request: asked, clusterId })
      await waitFor(() => envelopes.has(asked), 5_000)
      return envelopes.get(asked)!
    },
  }
}

type Hub = Awaited<ReturnType<typeof hubOn>>
let hubs: Hub[] = []
afterEach(async () => {
  for (const hub of hubs) hub.shared.close()
  hubs = []
  // Each test starts from an empty Redis: a DataHub reads every cluster in it at its start, up to its MAX_CLUSTERS.
  if (!redis) return
  const client = new Bun.RedisClient(redis.url)
  await client.send('FLUSHALL', [])
  client.close()
})

const text = (bytes?: Uint8Array) => (bytes ? new TextDecoder().decode(bytes) : undefined)
/** Both gateways were told the same: the shared view reached every DataHub. */
const agree = (a: Hub, b: Hub, clusterId: string, expected: object) =>
  waitFor(() => {
    const [x, y] = [a.clusters.get(clusterId), b.clusters.get(clusterId)]
    const same = (view?: object) => view !== undefined && Object.entries(expected).every(([key, value]) => (view as Record<string, unknown>)[key] === value)
    return same(x) && same(y)
  }, 5_000)

describe.if(hasRedis)('DataHubs sharing one Redis', () => {
  test('the interval is measured between consecutive snapshots whichever master took them; newer wins; heartbeats cross', async () => {
    const one = await hubOn(redis!.url)
    const two = await hubOn(redis!.url)
    hubs = [one, two]
    one.post('a', 1_000_000, '{"n":1}')
    await agree(one, two, 'a', { snapshotMs: 1_000_000, observedIntervalMs: undefined })
    // The agent's next post went to the other master (a load balancer): 10 s later.
    two.post('a', 1_010_000, '{"n":2}')
    await agree(one, two, 'a', { snapshotMs: 1_010_000, observedIntervalMs: 10_000 })
    one.post('a', 1_012_000, '{"n":3}', true)
    await agree(one, two, 'a', { snapshotMs: 1_012_000, observedIntervalMs: 0.8 * 10_000 + 0.2 * 2_000 })
    expect(one.status.staleAfterMs('a')).toBe(3 * 8_400)
    expect(two.status.staleAfterMs('a')).toBe(3 * 8_400)

    // The newest envelope is served by either: the one that took it from memory, the other from Redis, as sent (gzipped).
    expect(await one.envelope('a')).toEqual({ envelope: Bun.gzipSync(Buffer.from('{"n":3}')), gzipped: true })
    const fromRedis = await two.envelope('a')
    expect(fromRedis.gzipped).toBe(true)
    expect(text(Bun.gunzipSync(fromRedis.envelope as Uint8Array<ArrayBuffer>))).toBe('{"n":3}')

    // A slow commit of an older snapshot changes neither the envelope nor the interval anywhere.
    two.post('a', 1_011_000, '{"n":"late"}')
    await Bun.sleep(100) // its answer and publication come and go
    await agree(one, two, 'a', { snapshotMs: 1_012_000, observedIntervalMs: 8_400 })
    const still = await two.envelope('a')
    expect(text(Bun.gunzipSync(still.envelope as Uint8Array<ArrayBuffer>))).toBe('{"n":3}')

    // The same millisecond at both masters: both serve the greater origin's, never each its own.
    one.post('a', 1_015_000, '{"tie":1}')
    two.post('a', 1_015_000, '{"tie":2}')
    const tie = one.shared.origin > two.shared.origin ? '{"tie":1}' : '{"tie":2}'
    await agree(one, two, 'a', { snapshotMs: 1_015_000 })
    await waitFor(async () => text((await one.envelope('a')).envelope) === tie && text((await two.envelope('a')).envelope) === tie, 5_000)
    expect(one.clusters.get('a')!.observedIntervalMs).toBe(two.clusters.get('a')!.observedIntervalMs!)

    // Heartbeats, to either master, reach both; the later one holds.
    two.heartbeat('a', 1_020_000)
    await agree(one, two, 'a', { heartbeatMs: 1_020_000 })
    one.heartbeat('a', 1_030_000)
    await agree(one, two, 'a', { heartbeatMs: 1_030_000 })
    expect(one.status.agentOnline('a', 1_060_000)).toBe(true)
    expect(two.status.agentOnline('a', 1_060_000)).toBe(true)
    expect(one.answers.every((answer) => answer.ok) && two.answers.every((answer) => answer.ok)).toBe(true)
  })

  test('a master that starts later reads what the others shared; the keys expire RETENTION after the cluster was last heard of', async () => {
    const one = await hubOn(redis!.url)
    hubs = [one]
    one.post('late-reader', 2_000_000, '{"plain":true}')
    await waitFor(() => one.clusters.get('late-reader')?.observedIntervalMs === undefined && one.clusters.get('late-reader')?.snapshotMs === 2_000_000, 5_000)
    const client = new Bun.RedisClient(redis!.url)
    try {
      await waitFor(async () => (await client.get(envelopeKey('late-reader'))) === '{"plain":true}', 5_000)
      for (const key of [stateKey('late-reader'), envelopeKey('late-reader'), INDEX_KEY]) {
        const ttl = Number(await client.send('PTTL', [key]))
        expect(ttl).toBeGreaterThan(RETENTION_MS - 60_000)
        expect(ttl).toBeLessThanOrEqual(RETENTION_MS)
      }
    } finally {
      client.close()
    }
    const two = await hubOn(redis!.url)
    hubs.push(two)
    await agree(one, two, 'late-reader', { snapshotMs: 2_000_000 })
    const served = await two.envelope('late-reader')
    expect({ text: text(served.envelope), gzipped: served.gzipped }).toEqual({ text: '{"plain":true}', gzipped: false })
  })

  test('a burst of commits and heartbeats (a group commit of a large fleet) is shared whole: nothing dropped, nothing logged', async () => {
    const one = await hubOn(redis!.url, 5_000)
    const two = await hubOn(redis!.url, 5_000)
    hubs = [one, two]
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    try {
      for (let i = 0; i < 3_000; i++) {
        one.post(`fleet-${i}`, 5_000_000, `{"i":${i}}`)
        one.heartbeat(`fleet-${i}`, 5_000_001)
      }
      await waitFor(() => [...two.clusters.entries()].filter(([id, view]) => id.startsWith('fleet-') && view.heartbeatMs === 5_000_001).length === 3_000, 20_000)
      expect(warn).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
    }
  })

  test('Redis hanging (clients paused): nothing waits on it past the command timeout, and sharing resumes after', async () => {
    const one = await hubOn(redis!.url)
    const two = await hubOn(redis!.url)
    hubs = [one, two]
    one.post('hang', 4_000_000, '{"one":1}')
    await agree(one, two, 'hang', { snapshotMs: 4_000_000 })
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    const lines = (text: string) => warn.mock.calls.filter(([line]) => String(line).includes(text)).length
    const client = new Bun.RedisClient(redis!.url)
    try {
      await client.send('CLIENT', ['PAUSE', '4000', 'ALL'])
      const started = performance.now()
      one.post('hang', 4_010_000, '{"one":2}')
      expect(one.answers.at(-1)).toMatchObject({ ok: true }) // the agent's answer does not wait on Redis
      // Two asks Redis for one's envelope, which answers nothing: the gateway still has its answer well within its 5 s.
      const served = await two.envelope('hang')
      expect(performance.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 1_000)
      expect(served.envelope).toBeUndefined() // two holds none of its own
      await waitFor(() => !one.shared.connected && !two.shared.connected, 5_000)
      expect(lines('unavailable:')).toBe(2)
      await waitFor(() => lines('available again') === 2, 10_000)
      // One shares what it took meanwhile.
      await agree(one, two, 'hang', { snapshotMs: 4_010_000 })
      expect(text((await two.envelope('hang')).envelope)).toBe('{"one":2}')
      expect(lines('unavailable:')).toBe(2)
    } finally {
      warn.mockRestore()
      client.close()
    }
  })

  test('Redis halted: commits and heartbeats go on locally, one warning; resumed: what was held newer is shared again', async () => {
    const one = await hubOn(redis!.url)
    const two = await hubOn(redis!.url)
    hubs = [one, two]
    one.post('outage', 3_000_000, '{"before":1}')
    await agree(one, two, 'outage', { snapshotMs: 3_000_000 })
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    try {
      await redis!.halt()
      await waitFor(() => !one.shared.connected && !two.shared.connected, 5_000)
      one.post('outage', 3_030_000, '{"during":1}')
      one.post('outage', 3_060_000, '{"during":2}')
      one.heartbeat('outage', 3_070_000)
      // The DataHub answers and tells its own gateway as before; asking for the envelope does not hang.
      expect(one.answers.slice(-3).every((answer) => answer.ok)).toBe(true)
      await agree(one, one, 'outage', { snapshotMs: 3_060_000, heartbeatMs: 3_070_000, observedIntervalMs: 0.8 * 30_000 + 0.2 * 30_000 })
      expect(text((await one.envelope('outage')).envelope)).toBe('{"during":2}')
      expect(text((await two.envelope('outage')).envelope)).toBeUndefined() // two never held one; Redis cannot say
      await Bun.sleep(1_500) // reconnection attempts meanwhile: counted, not logged
      const unreachable = () => warn.mock.calls.filter(([line]) => String(line).includes('unavailable:')).length
      expect(unreachable()).toBe(2) // one per master

      await redis!.resume()
      await waitFor(() => warn.mock.calls.filter(([line]) => String(line).includes('available again')).length === 2, 10_000)
      // One restores what it took meanwhile, with the interval it measured; two hears of it.
      await agree(one, two, 'outage', { snapshotMs: 3_060_000, heartbeatMs: 3_070_000, observedIntervalMs: 30_000 })
      expect(text((await two.envelope('outage')).envelope)).toBe('{"during":2}')
      expect(unreachable()).toBe(2)
    } finally {
      warn.mockRestore()
    }
  })

  test('Redis full (maxmemory, noeviction): one warning per master, reads and checks are no recovery, nothing re-sent; room again: one line, and what was refused is shared', async () => {
    const one = await hubOn(redis!.url, 100, CHECK_MS)
    const two = await hubOn(redis!.url, 100, CHECK_MS)
    hubs = [one, two]
    one.post('full', 6_000_000, '{"round":0}')
    two.post('theirs', 6_000_000, '{"theirs":1}')
    await agree(one, two, 'full', { snapshotMs: 6_000_000 })
    await agree(one, two, 'theirs', { snapshotMs: 6_000_000 })
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    const lines = (text: string) => warn.mock.calls.filter(([line]) => String(line).includes(text)).length
    const admin = new Bun.RedisClient(redis!.url)
    try {
      await admin.send('CONFIG', ['SET', 'maxmemory', '1'])
      const scriptsBefore = await scriptsRun(admin)
      for (let round = 1; round <= 8; round++) {
        one.post('full', 6_000_000 + round * 1_000, `{"round":${round}}`) // refused: OOM
        // Reads Redis still answers (one asks for the envelope two committed), and checks meanwhile.
        expect(text((await one.envelope('theirs')).envelope)).toBe('{"theirs":1}')
        await Bun.sleep(CHECK_MS)
      }
      expect(one.answers.every((answer) => answer.ok)).toBe(true)
      expect(lines('unavailable:')).toBe(2) // one per master: one's commit, two's check
      expect(warn.mock.calls.find(([line]) => String(line).includes('unavailable:'))![0]).toContain('OOM')
      expect(lines('available again')).toBe(0)
      // Only the eight refused commits ran: no read of everything, no re-sending, after a false recovery.
      expect((await scriptsRun(admin)) - scriptsBefore).toBe(8)

      await admin.send('CONFIG', ['SET', 'maxmemory', '0'])
      await waitFor(() => lines('available again') === 2, 5_000)
      // One shares what Redis refused meanwhile; two hears of it.
      await agree(one, two, 'full', { snapshotMs: 6_008_000 })
      expect(text((await two.envelope('full')).envelope)).toBe('{"round":8}')
      await Bun.sleep(3 * CHECK_MS)
      expect([lines('unavailable:'), lines('available again')]).toEqual([2, 2])
    } finally {
      await admin.send('CONFIG', ['SET', 'maxmemory', '0'])
      admin.close()
      warn.mockRestore()
    }
  })

  test('Redis loses its keys without a reconnection (FLUSHALL): each master notices at its next check and shares again what it holds; nothing is re-sent otherwise', async () => {
    const one = await hubOn(redis!.url, 100, CHECK_MS)
    const two = await hubOn(redis!.url, 100, CHECK_MS)
    hubs = [one, two]
    one.post('kept', 7_000_000, '{"kept":1}', true)
    two.heartbeat('kept', 7_000_500)
    await agree(one, two, 'kept', { snapshotMs: 7_000_000, heartbeatMs: 7_000_500 })
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    const lost = () => warn.mock.calls.filter(([line]) => String(line).includes('lost its keys')).length
    const admin = new Bun.RedisClient(redis!.url)
    try {
      const scriptsBefore = await scriptsRun(admin)
      await Bun.sleep(5 * CHECK_MS) // checks come and go: nothing read or re-sent
      expect((await scriptsRun(admin)) - scriptsBefore).toBe(0)
      expect(lost()).toBe(0)

      await admin.send('FLUSHALL', [])
      await waitFor(async () => (await admin.send('EXISTS', [envelopeKey('kept')])) === 1, 5_000)
      await waitFor(() => lost() === 2, 5_000) // one line per master
      // A master started now agrees with the others: the snapshot, the heartbeat, the envelope.
      const three = await hubOn(redis!.url, 100, CHECK_MS)
      hubs.push(three)
      await agree(three, one, 'kept', { snapshotMs: 7_000_000, heartbeatMs: 7_000_500 })
      await agree(three, two, 'kept', { snapshotMs: 7_000_000, heartbeatMs: 7_000_500 })
      expect(text(Bun.gunzipSync((await three.envelope('kept')).envelope as Uint8Array<ArrayBuffer>))).toBe('{"kept":1}')
      expect(warn.mock.calls.filter(([line]) => String(line).includes('unavailable')).length).toBe(0)
    } finally {
      admin.close()
      warn.mockRestore()
    }
  })

  test('a wrong or missing password: the warning says what Redis answered (WRONGPASS, NOAUTH), once per burst; the password fixed, sharing resumes', async () => {
    const one = await hubOn(redis!.url, 100, CHECK_MS)
    hubs = [one]
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    const said = () => warn.mock.calls.map(([line]) => String(line))
    const admin = new Bun.RedisClient(redis!.url) // connected before the password is set: it stays authenticated
    try {
      // Redis is given a password and its clients are disconnected (as by a restart): one reconnects without one.
      await admin.send('CONFIG', ['SET', 'requirepass', 'secret'])
      await admin.send('CLIENT', ['KILL', 'TYPE', 'pubsub'])
      await admin.send('CLIENT', ['KILL', 'TYPE', 'normal']) // all but admin's own connection
      // Another master is given a wrong one.
      const wrongUrl = new URL(redis!.url)
      wrongUrl.password = 'wrong'
      const wrong = await hubOn(wrongUrl.href, 100, CHECK_MS)
      hubs.push(wrong)
      await Bun.sleep(2_000) // reconnection attempts, every 500 ms: counted, not logged
      const lines = said()
      expect(lines.filter((line) => line.includes('unavailable')).length).toBe(3)
      expect(lines.filter((line) => line.includes('unavailable: the connection was closed')).length).toBe(1)
      expect(lines.filter((line) => line.includes('still unavailable: Redis refused the connection: NOAUTH')).length).toBe(1)
      expect(lines.filter((line) => line.includes('unavailable: Redis refused the connection: WRONGPASS')).length).toBe(1)
      expect(lines.some((line) => line.includes('secret') || line.includes('wrong@'))).toBe(false)

      await admin.send('CONFIG', ['SET', 'requirepass', ''])
      await waitFor(() => said().filter((line) => line.includes('available again')).length === 2, 5_000)
      one.post('auth', 8_000_000, '{"auth":1}')
      await agree(one, wrong, 'auth', { snapshotMs: 8_000_000 })
    } finally {
      await admin.send('CONFIG', ['SET', 'requirepass', ''])
      admin.close()
      warn.mockRestore()
    }
  })
})

/** The checks of the tests on Redis's failures run this often. */
const CHECK_MS = 100

/** Scripts Redis ran so far (EVAL and EVALSHA, refused or not): what the masters sent it. */
async function scriptsRun(client: Bun.RedisClient): Promise<number> {
  const info = String(await client.send('INFO', ['commandstats']))
  let total = 0
  for (const match of info.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),.*?rejected_calls=(\d+),failed_calls=(\d+)/gm)) {
    total += Number(match[1]) + Number(match[2])
  }
  return total
}

