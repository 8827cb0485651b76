import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { getJson, postSnapshot, readDb, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

describe('agents → DataHub → writer → SQLite → query API', () => {
  const master = useMaster()
  const now = Date.now() - 1_000
  const nodes = [
    nodeSnapshot('worker-1', now, { cpu: 85, mem: 40, temp: 70, cores: 8, memTotal: 16e9, memUsed: 6e9,
      disks: [{ mount_point: '/', usage_percent: 40 }, { mount_point: '/data', usage_percent: 91 }] }),
    nodeSnapshot('worker-2', new Date(now).toISOString(), { cpu: 20, mem: 30, temp: 78, cores: 4, memTotal: 8e9, memUsed: 2e9 }),
    nodeSnapshot('master-1', now, { cpu: 30, mem: 50, temp: 45, cores: 2, memTotal: 4e9, memUsed: 2e9,
      disks: [{ mount_point: '/', usage_percent: 60 }] }),
  ]

  test('a gzipped 3-node snapshot is acknowledged only once it is in SQLite', async () => {
    const response = await postSnapshot(master.ingest, clusterSnapshot('prod', nodes), { clusterId: 'prod' })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', nodes: 3 })
    // Read the file directly, right after the 200: the commit must already be there.
    const rows = readDb<{ node_name: string; snapshot: Uint8Array }>(
      master.dbPath,
      "SELECT node_name, snapshot FROM node_metrics_latest WHERE cluster_id = 'prod' ORDER BY node_name",
    )
    expect(rows.map((row) => row.node_name)).toEqual(['master-1', 'worker-1', 'worker-2'])
    expect(JSON.parse(new TextDecoder().decode(rows[1]!.snapshot))).toEqual(nodes[0]!)
    expect(readDb(master.dbPath, 'SELECT * FROM node_metrics_history')).toHaveLength(3)
  })

  test('the node list returns every node as posted and the summary by value', async () => {
    const { status, body } = await getJson(`${master.api}/api/v2/clusters/prod/node-metrics`)
    expect(status).toBe(200)
    expect(body.nodes).toEqual(Object.fromEntries(nodes.map((node) => [node.node_name, node])))
    expect(body.node_status).toEqual({ 'master-1': 'online', 'worker-1': 'online', 'worker-2': 'online' })
    // Each node's figures as the master derived them: eth0 only (lo is loopback, eth1 down), the fullest disk.
    expect(body.node_figures['worker-1']).toEqual({
      cpu_usage: 85, mem_usage: 40, disk_usage: 40, temperature: 70, net_rx_bytes_ps: 1000, net_tx_bytes_ps: 500,
      disk_read_bytes_ps: 1000, disk_write_bytes_ps: 2000, load_1: 0.5, disk_max: 91,
    })
    expect(body.summary).toEqual({
      metrics_nodes: 3,
      online_nodes: 3,
      stale_nodes: 0,
      avg_cpu: (85 + 20 + 30) / 3,
      avg_memory: (40 + 30 + 50) / 3,
      max_temp: 78,
      max_temp_node: 'worker-2',
      max_disk: 91,
      max_disk_node: 'worker-1',
      max_disk_mount: '/data',
      warning_nodes: 2, // worker-1 by CPU, worker-2 by temperature
      total_cores: 14,
      total_mem_bytes: 28e9,
      used_mem_bytes: 10e9,
    })
  })

  test('the node detail is the snapshot as posted; an unknown node is a 404 JSON error', async () => {
    const detail = await getJson(`${master.api}/api/v2/clusters/prod/node-metrics/worker-2`)
    expect(detail).toEqual({ status: 200, body: nodes[1] })
    const missing = await getJson(`${master.api}/api/v2/clusters/prod/node-metrics/nope`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: 'node_not_found', message: expect.stringContaining('nope') })
  })

  test('an unknown cluster has no nodes: counts and totals are 0, averages and maxima null (there are none)', async () => {
    const { status, body } = await getJson(`${master.api}/api/v2/clusters/elsewhere/node-metrics`)
    expect(status).toBe(200)
    expect(body).toEqual({
      nodes: {},
      node_status: {},
      node_figures: {},
      summary: {
        metrics_nodes: 0, online_nodes: 0, stale_nodes: 0, avg_cpu: null, avg_memory: null, max_temp: null, max_temp_node: null,
        max_disk: null, max_disk_node: null, max_disk_mount: null, warning_nodes: 0, total_cores: 0, total_mem_bytes: 0, used_mem_bytes: 0,
      },
    })
  })

  test('the history point is in the seed shape: primary disk, rates over up physical interfaces, load', async () => {
    const { body } = await getJson(`${master.api}/api/v2/clusters/prod/node-metrics/worker-1/history?hours=1`)
    expect(body.node_name).toBe('worker-1')
    expect(body.hours).toBe(1)
    expect(body.points).toBe(1)
    expect(body.history).toEqual([
      {
        timestamp: now - (now % 300_000),
        cpu_usage: 85,
        mem_usage: 40,
        disk_usage: 40, // the "/" mount, not the fullest disk
        temperature: 70,
        net_rx_bytes_ps: 1000, // eth0 only: lo is loopback, eth1 is down
        net_tx_bytes_ps: 500,
        disk_read_bytes_ps: 1000, // the primary disk's I/O
        disk_write_bytes_ps: 2000,
        load_1: 0.5,
        // one snapshot in the bucket: its peak is itself
        cpu_usage_max: 85, mem_usage_max: 40, disk_usage_max: 40, temperature_max: 70, net_rx_bytes_ps_max: 1000, net_tx_bytes_ps_max: 500,
        disk_read_bytes_ps_max: 1000, disk_write_bytes_ps_max: 2000, load_1_max: 0.5,
      },
    ])
  })

  test('the DataHub keeps the newest envelope as it came, and the agent heartbeat', async () => {
    const heartbeat = await fetch(`${master.ingest}/agent/heartbeat`, { method: 'POST', headers: { 'x-cluster-id': 'prod' } })
    expect(heartbeat.status).toBe(200)
    const state = master.hub.cluster('prod')!
    // Held as it crossed the network (gzipped), and given back as the agent sent it.
    expect(state.snapshot!.gzipped).toBe(true)
    expect(JSON.parse(master.hub.envelopeText('prod')!).pods).toEqual([{ name: 'web-1', namespace: 'default' }])
    // The heartbeat is answered by the DataHub (it may refuse a new cluster): its 200 means recorded.
    expect(master.hub.cluster('prod')!.lastHeartbeatMs).toBeGreaterThanOrEqual(now)
    const health = await getJson(`${master.api}/healthz`)
    expect(health).toEqual({ status: 200, body: { status: 'ok', writer: 'up', reads: 'ok', clusters: 1 } })
  })
})
