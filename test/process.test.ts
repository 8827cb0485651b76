import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postSnapshot, readDb } from './support/master'
import { spawnMaster } from './support/master-process'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

let dir: string
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/**
 * Agents posting as fast as they are answered, each its own nodes, until `stop()`.
 * Records, per node, the newest timestamp that was acknowledged with a 200.
 */
function agents(ingest: string, count: number, nodesPerAgent: number) {
  const acknowledged = new Map<string, number>()
  /** why requests failed without an HTTP answer, by error code */
  const failures = new Map<string, number>()
  let running = true
  let sent = 0
  const loops = Array.from({ length: count }, async (_, agent) => {
    let ts = Date.now() - 120_000
    while (running) {
      ts += 1
      const nodes = Array.from({ length: nodesPerAgent }, (_, n) => nodeSnapshot(`a${agent}-n${n}`, ts, { cpu: n }))
      try {
        sent++
        const response = await postSnapshot(ingest, clusterSnapshot(`cluster-${agent}`, nodes), { clusterId: `cluster-${agent}` })
        if (response.status === 200) for (const node of nodes) acknowledged.set(`cluster-${agent}/${node.node_name}`, ts)
        else await response.arrayBuffer()
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error)
        failures.set(code, (failures.get(code) ?? 0) + 1)
        await Bun.sleep(5) // the server is gone or refusing: keep trying until told to stop
      }
    }
  })
  return {
    acknowledged,
    failures,
    sent: () => sent,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

function expectEveryAcknowledgedSnapshotStored(dbPath: string, acknowledged: Map<string, number>) {
  expect(readDb(dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  const stored = new Map(
    readDb<{ key: string; snapshot_ms: number }>(dbPath, "SELECT cluster_id || '/' || node_name AS key, snapshot_ms FROM node_metrics_latest")
      .map((row) => [row.key, row.snapshot_ms]),
  )
  expect(acknowledged.size).toBeGreaterThan(0)
  for (const [key, ts] of acknowledged) {
    expect(stored.get(key) ?? -1).toBeGreaterThanOrEqual(ts)
  }
}

describe('the master as a process', () => {
  test('kill -9 while agents post: after restart the file is intact and every 200 is there', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmm-kill-'))
    const dbPath = join(dir, 'metrics.db')
    const master = await spawnMaster({ DB_PATH: dbPath })
    const load = agents(master.ingest, 8, 20)
    await Bun.sleep(1_500)
    master.proc.kill('SIGKILL')
    await master.proc.exited
    await load.stop()
    expect(load.sent()).toBeGreaterThan(50)

    const again = await spawnMaster({ DB_PATH: dbPath })
    try {
      expectEveryAcknowledgedSnapshotStored(dbPath, load.acknowledged)
      const list = (await fetch(`${again.api}/api/v2/clusters/cluster-0/node-metrics`).then((r) => r.json())) as any
      expect(list.summary.metrics_nodes).toBe(20)
    } finally {
      again.proc.kill('SIGTERM')
      await again.proc.exited
    }
  })

  test('SIGTERM: in-flight requests are answered, everything acknowledged is committed, the WAL is checkpointed, exit 0 within 10 s', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nmm-term-'))
    const dbPath = join(dir, 'metrics.db')
    const master = await spawnMaster({ DB_PATH: dbPath })
    const load = agents(master.ingest, 8, 50)
    await Bun.sleep(1_000)
    const signalled = performance.now()
    master.proc.kill('SIGTERM')
    const code = await master.proc.exited
    const tookMs = performance.now() - signalled
    await load.stop()
    expect(code).toBe(0)
    expect(tookMs).toBeLessThan(10_000)
    expect(master.output()).toContain('stopped cleanly')
    // Checkpointed: the WAL holds nothing that is not in the main file.
    expect(!existsSync(`${dbPath}-wal`) || statSync(`${dbPath}-wal`).size === 0).toBe(true)
    expectEveryAcknowledgedSnapshotStored(dbPath, load.acknowledged)
  })
})
