import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnMaster } from './support/master-process'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** A client that reads an answer whole but keeps only its size, its head and its tail. */
async function reader(url: string, path: string) {
  const { hostname, port } = new URL(url)
  const state = { bytes: 0, head: '', tail: '', socket: undefined as undefined | { terminate(): void } }
  state.socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data: (_, data) => {
        const text = new TextDecoder().decode(data)
        if (state.head.length < 200) state.head += text.slice(0, 200)
        state.tail = (state.tail + text).slice(-16)
        state.bytes += data.byteLength
      },
      open: (socket) => void socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n`),
    },
  })
  return state
}

/**
 * 100 clients asking at once for a 14 MiB envelope: one request to the DataHub, one copy shared,
 * streamed as each client reads. Handed over whole, Bun copies what a connection has not taken yet
 * into its buffer: the master grew by 1.4 GiB.
 */
test('a big envelope read by 100 clients at once costs the master one copy, not one each', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-envmem-'))
  const master = await spawnMaster({ DB_PATH: join(dir, 'm.db'), MAX_BODY: '32MiB' })
  const clients: Awaited<ReturnType<typeof reader>>[] = []
  try {
    const pods = Array.from({ length: 150_000 }, (_, index) => ({ name: `pod-${index}-${'x'.repeat(60)}`, namespace: 'default' }))
    const body = JSON.stringify({ cluster_id: 'big', node_metrics: {}, pods })
    const posted = await fetch(`${master.ingest}/agent/snapshot`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cluster-id': 'big' }, body })
    expect(posted.status).toBe(200)
    const rssMiB = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${master.proc.pid}/status`, 'utf8'))![1]) / 1024
    const before = rssMiB()
    for (let i = 0; i < 100; i++) clients.push(await reader(master.api, '/api/v2/clusters/big/snapshot'))
    let peak = before
    const until = performance.now() + 15_000
    // Whole, however it was framed: its last bytes came (chunked: the closing chunk).
    const done = (client: (typeof clients)[number]) => client.tail.endsWith('\r\n0\r\n\r\n') || client.tail.endsWith('"}]}')
    while (clients.some((client) => !done(client)) && performance.now() < until) {
      peak = Math.max(peak, rssMiB())
      await Bun.sleep(20)
    }
    for (const client of clients) {
      expect(client.head).toContain('{"cluster_id":"big"')
      expect(done(client)).toBe(true)
      expect(client.bytes).toBeGreaterThan(body.length)
    }
    expect(peak - before).toBeLessThan(300)
  } finally {
    for (const client of clients) client.socket?.terminate()
    master.proc.kill('SIGTERM')
    await master.proc.exited
    rmSync(dir, { recursive: true, force: true })
  }
})
