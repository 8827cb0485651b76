import { afterAll, beforeAll, describe, expect, setDefaultTimeout, spyOn, test } from 'bun:test'
import { engineOrSkip, startRedis, type Engine } from './support/engines'
import { disposeMaster, getJson, postSnapshot, startTestMaster, type RunningMaster } from './support/master'
import { clusterSnapshot, numberedNodes } from './support/snapshots'
import { waitFor } from './support/wait'

// Two real masters (Workers, SQLite, ports) and a real Redis, halted and resumed.
setDefaultTimeout(30_000)

/**
 * Two masters behind one load balancer share their DataHub's state through one Redis (REDIS_URL):
 * whichever master an agent posts to, both answer the same. Each has its own SQLite file here (a
 * shared store is the PostgreSQL work), so node counts differ; what the DataHub knows must not.
 */

const hasRedis = engineOrSkip('redis')
let redis: Engine | undefined
let one: RunningMaster | undefined
let two: RunningMaster | undefined

beforeAll(async () => {
  if (!hasRedis) return
  redis = await startRedis()
  one = await startTestMaster({ REDIS_URL: redis.url })
  two = await startTestMaster({ REDIS_URL: redis.url })
})
afterAll(async () => {
  one = await disposeMaster(one)
  two = await disposeMaster(two)
  await redis?.stop()
})

/** What the DataHub knows of a cluster, as /api/v2/clusters says it (node counts are the store's). */
async function heard(master: RunningMaster, clusterId: string) {
  const { clusters } = (await getJson<{ clusters: any[] }>(`${master.api}/api/v2/clusters`)).body
  const cluster = clusters.find((candidate) => candidate.cluster_id === clusterId)
  if (!cluster) return undefined
  const { agent, last_snapshot_at, last_heartbeat_at, stale_after_ms } = cluster
  return { agent, last_snapshot_at, last_heartbeat_at, stale_after_ms }
}

/** Both masters say the same of the cluster, and `check` holds for it. */
async function bothSay(clusterId: string, check: (view: NonNullable<Awaited<ReturnType<typeof heard>>>) => boolean) {
  let views: unknown[] = []
  await waitFor(async () => {
    const [a, b] = await Promise.all([heard(one!, clusterId), heard(two!, clusterId)])
    views = [a, b]
    return a !== undefined && b !== undefined && check(a) && JSON.stringify(a) === JSON.stringify(b)
  }, 10_000).catch((error) => {
    throw new Error(`${error.message}: ${JSON.stringify(views)}`)
  })
  return views[0] as NonNullable<Awaited<ReturnType<typeof heard>>>
}

/** The cluster's envelope as a master serves it, raw: gzipped or not as asked. */
async function envelope(master: RunningMaster, clusterId: string, gzip: boolean) {
  const response = await fetch(`${master.api}/api/v2/clusters/${clusterId}/snapshot`, {
    headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' },
    decompress: false,
  })
  return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) }
}

const post = async (master: RunningMaster, clusterId: string, text: string, gzip = true) => {
  const response = await postSnapshot(master.ingest, text, { clusterId, gzip })
  expect(response.status).toBe(200)
}
const heartbeat = async (master: RunningMaster, clusterId: string) => {
  const response = await fetch(`${master.ingest}/agent/heartbeat`, { method: 'POST', headers: { 'x-cluster-id': clusterId } })
  expect(response.status).toBe(200)
}
const body = (clusterId: string, tag: string) => JSON.stringify({ ...clusterSnapshot(clusterId, numberedNodes(2, Date.now())), tag })

describe.if(hasRedis)('two masters sharing one Redis', () => {
  test('a snapshot posted to one: the other lists the cluster alike and serves its envelope byte for byte, gzipped or not', async () => {
    const text = body('A', 'first')
    await post(one!, 'A', text)
    const view = await bothSay('A', (view) => view.last_snapshot_at !== null)
    expect(view).toMatchObject({ agent: 'online', last_heartbeat_at: null, stale_after_ms: 15_000 })
    const [gzipOne, gzipTwo] = [await envelope(one!, 'A', true), await envelope(two!, 'A', true)]
    expect(gzipTwo.status).toBe(200)
    expect(gzipTwo.bytes).toEqual(gzipOne.bytes) // the bytes the agent sent: it posted gzip
    expect(new TextDecoder().decode(Bun.gunzipSync(gzipTwo.bytes))).toBe(text)
    expect(new TextDecoder().decode((await envelope(two!, 'A', false)).bytes)).toBe(text)

    // Posted as plain JSON to the other master this time: served alike by both, in both encodings.
    const plain = body('A', 'second')
    await post(two!, 'A', plain, false)
    await bothSay('A', (later) => later.last_snapshot_at > view.last_snapshot_at)
    await waitFor(async () => new TextDecoder().decode((await envelope(one!, 'A', false)).bytes) === plain, 10_000)
    expect(new TextDecoder().decode(Bun.gunzipSync((await envelope(one!, 'A', true)).bytes))).toBe(plain)
    expect((await envelope(one!, 'A', false)).bytes).toEqual((await envelope(two!, 'A', false)).bytes)
  })

  test('heartbeats to either show on both; the observed interval, and so the stale threshold, is the same on both', async () => {
    await heartbeat(two!, 'A')
    const first = await bothSay('A', (view) => view.last_heartbeat_at !== null)
    expect(first.agent).toBe('online')
    // The later heartbeat holds on both, whichever master took it.
    const before = Date.now()
    await heartbeat(one!, 'A')
    await bothSay('A', (view) => view.last_heartbeat_at >= before)
    // A cluster only ever heard of by heartbeat, to master 2.
    await heartbeat(two!, 'H')
    expect(await bothSay('H', (view) => view.last_heartbeat_at !== null)).toMatchObject({ agent: 'online', last_snapshot_at: null })

    await post(one!, 'A', body('A', 'third'))
    await post(two!, 'A', body('A', 'fourth'))
    await waitFor(() => {
      const [a, b] = [one!.hub.cluster('A'), two!.hub.cluster('A')]
      return a?.observedIntervalMs !== undefined && a.observedIntervalMs === b?.observedIntervalMs && a.sharedSnapshot?.receivedMs === b.snapshot?.receivedMs
    }, 10_000)
    const threshold = Math.max(15_000, 3 * one!.hub.cluster('A')!.observedIntervalMs!)
    await bothSay('A', (view) => view.stale_after_ms === threshold)
  })

  test('posts to both at once: the newer one wins on both, whichever master took it', async () => {
    const newest = (master: RunningMaster) => master.hub.cluster('A')!.snapshot!.receivedMs
    for (let round = 0; round < 5; round++) {
      const texts = [body('A', `race-${round}-1`), body('A', `race-${round}-2`)]
      await Promise.all([post(one!, 'A', texts[0]!), post(two!, 'A', texts[1]!)])
      await bothSay('A', (view) => view.last_snapshot_at === Math.max(newest(one!), newest(two!)))
      // The same millisecond at both: both serve one of them (the greater origin's), never each its own.
      const winner = newest(one!) > newest(two!) ? texts[0] : newest(two!) > newest(one!) ? texts[1] : undefined
      await waitFor(async () => {
        const [a, b] = [await envelope(one!, 'A', false), await envelope(two!, 'A', false)]
        const served = new TextDecoder().decode(a.bytes)
        return Bun.deepEquals(a.bytes, b.bytes) && (winner === undefined ? texts.includes(served) : served === winner)
      }, 10_000)
    }
  })

  test('Redis halted: agents still get 200 on both, queries answer, one warning per master; resumed: sharing resumes by itself', async () => {
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    const lines = (text: string) => warn.mock.calls.filter(([line]) => String(line).includes(text)).length
    try {
      await redis!.halt()
      const during = body('A', 'during')
      await post(one!, 'A', during)
      await post(two!, 'B', body('B', 'during'))
      await heartbeat(two!, 'A')
      for (let i = 0; i < 5; i++) await post(one!, 'A', body('A', `during-${i}`))
      for (const master of [one!, two!]) {
        expect((await getJson(`${master.api}/api/v2/clusters`)).status).toBe(200)
        expect((await envelope(master, master === one ? 'A' : 'B', true)).status).toBe(200)
      }
      await Bun.sleep(1_500) // reconnection attempts meanwhile: counted, not logged
      expect(lines('unavailable:')).toBe(2) // one per master: the burst's first failure

      await redis!.resume()
      await waitFor(() => lines('available again') === 2, 10_000)
      expect(lines('unavailable:')).toBe(2)
      // What each took while Redis was out is shared again: B, held by master 2 only, shows on master 1.
      await bothSay('B', (view) => view.last_snapshot_at !== null)
      const after = body('A', 'after')
      await post(one!, 'A', after)
      const received = one!.hub.cluster('A')!.snapshot!.receivedMs
      await bothSay('A', (view) => view.last_snapshot_at === received)
      await waitFor(async () => new TextDecoder().decode(Bun.gunzipSync((await envelope(two!, 'A', true)).bytes)) === after, 10_000)
    } finally {
      warn.mockRestore()
    }
  })

  test('Redis down when a master starts: it starts and takes agents all the same, and shares once Redis is up', async () => {
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    let three: RunningMaster | undefined
    try {
      await redis!.halt()
      three = await startTestMaster({ REDIS_URL: redis!.url })
      const text = body('C', 'from-three')
      await post(three, 'C', text)
      expect((await envelope(three, 'C', true)).status).toBe(200)
      expect(warn.mock.calls.filter(([line]) => String(line).includes('unavailable:')).length).toBeGreaterThanOrEqual(1)
      await redis!.resume()
      await waitFor(async () => (await heard(one!, 'C'))?.last_snapshot_at === three!.hub.cluster('C')!.snapshot!.receivedMs, 10_000)
      expect(new TextDecoder().decode(Bun.gunzipSync((await envelope(one!, 'C', true)).bytes))).toBe(text)
    } finally {
      warn.mockRestore()
      await disposeMaster(three)
    }
  })
})
