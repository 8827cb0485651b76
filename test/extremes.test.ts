import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { FIGURES, MAX_RATE_BYTES_PS } from '../src/model/figures'
import { postSnapshot, readDb, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * No query can fail on stored data: the most extreme values the master accepts — at the edges of
 * every figure's range, and anything at all in the fields it only stores — are posted, and then
 * every route is read. Sums are read with TOTAL(), and a bucket sum pushed past 2^63 is still served.
 */

const MINUTE = 60_000

/** A node at the edge of everything: figures at their bounds, stored-only fields at the edge of JSON. */
function extremeNode(name: string, ts: number, high: boolean): string {
  const node: any = nodeSnapshot(name, ts, { cpu: high ? 100 : 0, mem: high ? 100 : 0, temp: high ? 200 : -60, cores: 65_536, memTotal: 2 ** 64, memUsed: 2 ** 64 })
  node.cpu.idle_percent = high ? 0 : 100
  node.cpu.load_1 = high ? 1e6 : 0
  node.cpu.per_core = [1.7976931348623157e308, -1.7976931348623157e308, 5e-324]
  node.disks = [{ mount_point: '/', total: 2 ** 64, used: 2 ** 64, usage_percent: high ? 100 : 0, read_rate: MAX_RATE_BYTES_PS, write_rate: high ? MAX_RATE_BYTES_PS : 0 }]
  node.networks = [
    { interface: 'eth0', status: 'up', rx_rate: MAX_RATE_BYTES_PS / 2, tx_rate: high ? MAX_RATE_BYTES_PS / 2 : 0, rx_bytes: 9223372036854775807 },
    { interface: 'eth1', status: 'up', rx_rate: MAX_RATE_BYTES_PS / 2, tx_rate: 0 },
  ]
  node.temperature.sensors = [{ name: 'nvme', current: 1e308, max: 65261.85, critical: -1e308 }]
  node.processes = [{ pid: 2 ** 53 + 1, cpu_percent: -1e308, mem_rss: 1e308, cmdline: 'x'.repeat(100_000), start_time: '🔥' }]
  node.psi = { some: true, text: 'é', nested: { a: null, b: -0 } }
  // JSON numbers that JSON.parse reads as ±Infinity: stored as sent.
  return JSON.stringify(node).replace('"rx_bytes":9223372036854776000', '"rx_bytes":9223372036854775807,"huge":1e400,"tiny":-1e400')
}

describe('the most extreme accepted values, then every route', () => {
  const master = useMaster({ SAMPLE_INTERVAL: '1m', API_TOKENS: 'read' })
  const base = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE
  const names = ['edge-a', 'edge-b']

  beforeAll(async () => {
    for (let i = 0; i < 20; i++) {
      const nodes = names.map((name) => extremeNode(name, base + i * 30_000, i % 2 === 0))
      const body = `{"cluster_id":"x","fetched_at":${base + i * 30_000},"node_metrics":{${nodes.map((node, at) => `"${names[at]}":${node}`).join(',')}}}`
      const response = await postSnapshot(master.ingest, body, { clusterId: 'x' })
      expect(response.status).toBe(200)
      expect(((await response.json()) as any).dropped).toBeUndefined() // all within the figures' ranges
    }
  })

  const routes = () => {
    const node = `${master.api}/api/v2/clusters/x/node-metrics/edge-a`
    return [
      `${master.api}/api/v2/clusters`,
      `${master.api}/api/v2/clusters/x/node-metrics`,
      node,
      `${node}/history`,
      `${node}/history?hours=720`,
      `${node}/history?start=${base - MINUTE}&max_points=2`,
      `${node}/history?start=${base}&step=1h`,
      `${node}/history?start=${new Date(base - 400 * 86_400_000).toISOString()}&step=7d`,
      ...FIGURES.map((figure) => `${master.api}/api/v2/clusters/x/history?metric=${figure.field}&hours=720&max_points=3`),
      `${master.api}/api/v2/node-metrics?cluster_id=x`,
      `${master.api}/api/v2/node-metrics/edge-a?cluster_id=x`,
      `${master.api}/api/v2/node-metrics/edge-a/history?cluster_id=x&hours=720`,
      `${master.api}/metrics`,
      `${master.api}/healthz`,
    ]
  }

  async function readEverything() {
    for (const url of routes()) {
      const response = await fetch(url, { headers: { authorization: 'Bearer read' } })
      const text = await response.text()
      expect({ url, status: response.status }).toEqual({ url, status: 200 })
      if (!url.endsWith('/metrics')) expect(() => JSON.parse(text)).not.toThrow()
    }
  }

  test('every route answers 200 with JSON', async () => {
    await readEverything()
    const point = (await (await fetch(`${master.api}/api/v2/clusters/x/node-metrics/edge-a/history?start=${base}&step=1h`, { headers: { authorization: 'Bearer read' } })).json() as any).history[0]
    expect(point).toMatchObject({ cpu_usage: 50, cpu_usage_max: 100, temperature: 70, temperature_max: 200, net_rx_bytes_ps: MAX_RATE_BYTES_PS, load_1_max: 1e6 })
    const detail = await (await fetch(`${master.api}/api/v2/clusters/x/node-metrics/edge-a`, { headers: { authorization: 'Bearer read' } })).text()
    expect(detail).toContain('"rx_bytes":9223372036854775807,"huge":1e400,"tiny":-1e400')
  })

  test('bucket sums past 2^63 are still written and read', async () => {
    // No agent can get there within the bounds, but a query must not be able to fail on what is stored.
    const db = new Database(master.dbPath)
    db.exec('PRAGMA busy_timeout = 5000')
    db.exec(`UPDATE node_metrics_history SET net_rx_sum = 9223372036854775000, net_rx_n = 1 WHERE node_id = (SELECT id FROM node_metrics_latest WHERE node_name = 'edge-a')`)
    db.close()
    const response = await postSnapshot(master.ingest, `{"cluster_id":"x","node_metrics":{"edge-a":${extremeNode('edge-a', base + 20 * 30_000, true)}}}`, { clusterId: 'x' })
    expect(response.status).toBe(200)
    await readEverything()
    expect(readDb(master.dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  })
})
