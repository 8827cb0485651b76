import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnMaster } from './support/master-process'
import { disposeMaster, postSnapshot, startTestMaster, type RunningMaster } from './support/master'
import { eventually, rawConnect, slowUpload, type RawClient } from './support/raw-client'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** The master's agent port under clients that upload slowly, hang up, or idle — and at SIGTERM. */

const snapshot = (clusterId = 'c1') => clusterSnapshot(clusterId, [nodeSnapshot('n1', Date.now() - 1_000)])

let master: RunningMaster | undefined
let dir: string | undefined
const clients: RawClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  master = await disposeMaster(master)
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('MAX_INFLIGHT_BYTES', () => {
  test('slow uploads holding the budget: a new snapshot gets 503 + Retry-After at once, the gateway stays fast, and the budget comes back', async () => {
    master = await startTestMaster({ MAX_BODY: '1MiB', MAX_INFLIGHT_BYTES: '2MiB' })
    // Four slow agents: two hold the budget whole (1 MiB each, declared), two more are refused.
    for (let i = 0; i < 4; i++) clients.push(await slowUpload(master.ingest, { declared: 1024 * 1024, send: 64 * 1024 }))
    await eventually(() => clients.filter((client) => client.status() === 503).length === 2, 'two slow uploads refused')

    const started = performance.now()
    const refused = await postSnapshot(master.ingest, snapshot(), { clusterId: 'c1' })
    const refusedMs = performance.now() - started
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    const body = (await refused.json()) as { error: string; message: string }
    expect(body.error).toBe('busy')
    expect(body.message).toContain('MAX_INFLIGHT_BYTES')
    // "at once": it waits for none of the slow bodies (they would take Bun's 10 s idle timeout)
    expect(refusedMs).toBeLessThan(2_000)

    const healthStarted = performance.now()
    expect((await fetch(`${master.api}/healthz`)).status).toBe(200)
    expect(performance.now() - healthStarted).toBeLessThan(2_000)

    // The slow agents hang up: everything they held is given back.
    for (const client of clients.splice(0)) client.close()
    let status = 0
    await eventually(async () => (status = (await postSnapshot(master!.ingest, snapshot(), { clusterId: 'c1' })).status) === 200, 'a snapshot accepted again')
    // All of it: two whole-budget uploads fit again (they are being read, not refused).
    for (let i = 0; i < 2; i++) clients.push(await slowUpload(master.ingest, { declared: 1024 * 1024, send: 1_000 }))
    await Bun.sleep(200)
    expect(clients.map((client) => client.status())).toEqual([undefined, undefined])
    expect(status).toBe(200)
  })
})

describe('a body that trickles in', () => {
  test('is cut off with 408 once it comes slower than 16 KiB/s after 10 s, and gives its budget back', async () => {
    master = await startTestMaster({ MAX_BODY: '1MiB', MAX_INFLIGHT_BYTES: '1MiB' })
    // One byte every 2 s, each under the server's idle timeout: it would hold the whole budget for ever.
    const trickler = await slowUpload(master.ingest, { declared: 1024 * 1024, send: 1 })
    clients.push(trickler)
    const refusedMeanwhile = await postSnapshot(master.ingest, snapshot(), { clusterId: 'c1' })
    expect(refusedMeanwhile.status).toBe(503)
    const started = performance.now()
    const timer = setInterval(() => trickler.write(' '), 2_000)
    try {
      await eventually(() => trickler.status() !== undefined, 'the trickling upload answered', 20_000)
    } finally {
      clearInterval(timer)
    }
    expect(trickler.status()).toBe(408)
    expect(trickler.received()).toContain('body_too_slow')
    expect(performance.now() - started).toBeLessThan(15_000)
    expect((await postSnapshot(master.ingest, snapshot(), { clusterId: 'c1' })).status).toBe(200)
  })
})

describe('the master process', () => {
  test('50 uploads aborted mid-body: a line or two that counts them, no "unexpected error", and the port still serves', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmm-aborts-'))
    const proc = await spawnMaster({ DB_PATH: join(dir, 'metrics.db') })
    try {
      const uploads = await Promise.all(Array.from({ length: 50 }, () => slowUpload(proc.ingest, { declared: 200_000, send: 20_000 })))
      await Bun.sleep(300) // all of them are being read
      for (const upload of uploads) upload.close()
      await eventually(() => /aborted by/.test(proc.output()), 'the aborts logged', 5_000)
      await Bun.sleep(300)
      const lines = proc.output().split('\n').filter((line) => /abort/i.test(line))
      expect(lines.length).toBeLessThanOrEqual(2)
      const counted = lines.reduce((sum, line) => sum + Number(/^(\d+) agent upload/.exec(line)?.[1] ?? 0), 0)
      expect(counted).toBe(50)
      expect(proc.output()).not.toContain('unexpected error')
      expect(proc.output()).not.toContain('DOMException')
      expect((await postSnapshot(proc.ingest, snapshot(), { clusterId: 'c1' })).status).toBe(200)
    } finally {
      proc.proc.kill('SIGTERM')
      await proc.proc.exited
    }
  })

  test('SIGTERM with 50 slow uploads, idle keep-alive connections, half-sent headers and held polls: exit 0 in well under 10 s', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmm-stop-'))
    const proc = await spawnMaster({ DB_PATH: join(dir, 'metrics.db') })
    const slow = await Promise.all(Array.from({ length: 50 }, () => slowUpload(proc.ingest, { declared: 1_000_000, send: 10_000 })))
    const chunked = await Promise.all(Array.from({ length: 5 }, () => slowUpload(proc.ingest, { send: 10_000 })))
    // Keep-alive connections that were answered and now idle.
    const idle = await Promise.all(Array.from({ length: 10 }, () => rawConnect(proc.ingest)))
    for (const client of idle) client.write(`POST /agent/heartbeat HTTP/1.1\r\nHost: x\r\nX-Cluster-ID: c1\r\nContent-Length: 0\r\n\r\n`)
    await eventually(() => idle.every((client) => client.status() === 200), 'the heartbeats answered')
    const halfHeaders = await Promise.all(Array.from({ length: 5 }, () => rawConnect(proc.ingest)))
    for (const client of halfHeaders) client.write('POST /agent/snapshot HTTP/1.1\r\nHost: x\r\n')
    const polls = await Promise.all(Array.from({ length: 5 }, () => rawConnect(proc.ingest)))
    for (const client of polls) client.write('GET /agent/commands HTTP/1.1\r\nHost: x\r\n\r\n')
    clients.push(...slow, ...chunked, ...idle, ...halfHeaders, ...polls)
    await Bun.sleep(300)

    const signalled = performance.now()
    proc.proc.kill('SIGTERM')
    const code = await proc.proc.exited
    const tookMs = performance.now() - signalled
    console.log(`SIGTERM → exit with ${slow.length + chunked.length} slow uploads, ${idle.length} idle, ${halfHeaders.length} half-sent headers, ${polls.length} polls: ${Math.round(tookMs)} ms`)
    expect(code).toBe(0)
    expect(tookMs).toBeLessThan(10_000)
    expect(proc.output()).toContain('stopped cleanly')
    expect(proc.output()).not.toContain('unexpected error')
  }, 30_000)
})
