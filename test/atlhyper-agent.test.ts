import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { atlhyperFixture, goNodeText, postLikeAtlHyper } from './support/atlhyper'
import { getJson, readDb, removeDb, startTestMaster, useMaster, type RunningMaster } from './support/master'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * Real AtlHyper agents feed the master unchanged: every fixture is Go's json.Marshal of the
 * agent's own structs (see test/fixtures/atlhyper/README.md), posted as the agent posts it.
 */

const UID = '3f2c8a4e-5b1d-4e8f-9a7c-2d6e1f0b9c3a'
const HOUR = 3_600_000
const round = (value: number, scale: number) => Math.round(value * scale) / scale

async function scrape(master: RunningMaster) {
  const families = parsePrometheusTextFormat(await (await fetch(`${master.api}/metrics`)).text()) as any[]
  return (name: string) => Object.fromEntries(
    (families.find((family) => family.name === name)?.metrics ?? []).map((metric: any) => [metric.labels.node, Number(metric.value)]),
  )
}

const history = async (master: RunningMaster, clusterId: string, node: string) =>
  (await getJson(`${master.api}/api/v2/clusters/${clusterId}/node-metrics/${node}/history?hours=1`)).body.history

describe('a steady-state bare-metal cluster with NVMe sensors, a NIC counter reset and an old kernel', () => {
  const master = useMaster()
  const body = atlhyperFixture('v2-steady-nvme')
  const sent = JSON.parse(body)
  const names = ['edge-1', 'worker-1', 'worker-2']

  test('200 with the node count, and the values out of physical range named; nothing else refused', async () => {
    const response = await postLikeAtlHyper(master.ingest, body, UID)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      status: 'ok',
      nodes: 3,
      dropped: [
        // Used = Total − Free − Cached − Buffers on a kernel without MemAvailable: negative.
        { path: '/node_metrics/edge-1/memory/usage_percent', reason: 'negative' },
        { path: '/node_metrics/edge-1/memory/used', reason: 'negative' },
        // float64(uint64 wrap) / 10 s on a 10 Gbit/s link.
        { path: '/node_metrics/worker-2/networks/0/rx_rate', reason: 'above_link_speed' },
      ],
      dropped_total: 3,
    })
  })

  test('every node is stored and served as the bytes Go wrote: int64 counters above 2^53 come back exactly', async () => {
    for (const name of names) {
      const served = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/${name}`)).text()
      expect(served).toBe(goNodeText(body, name, names))
    }
    const worker2 = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/worker-2`)).text()
    expect(worker2).toContain('"rx_bytes":9223372036854775807')
    expect(worker2).toContain('"tx_bytes":9007199254740993')
    expect(worker2).toContain('"read_bytes":4611686018427388416')
    expect(worker2).toContain('"rx_rate":1844674407370955300')
    const worker1 = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/worker-1`)).text()
    expect(worker1).toContain('"max":65261.85') // the NVMe "unset" limit, kept as sent
    const edge = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/edge-1`)).text()
    expect(edge).toContain('memory.available\\u003c50Mi') // Go's escaping of "<", untouched
    // In the file too, and the DataHub holds the envelope as it came.
    const stored = readDb<{ snapshot: string }>(master.dbPath, "SELECT CAST(snapshot AS TEXT) AS snapshot FROM node_metrics_latest WHERE node_name = 'worker-2'")
    expect(stored[0]!.snapshot).toBe(goNodeText(body, 'worker-2', names))
    expect(master.hub.envelopeText(UID)).toBe(body)
  })

  test('the network rate counts the physical interfaces only: no bond, CNI, overlay or tunnel traffic twice', async () => {
    const w1 = sent.node_metrics['worker-1']
    const nic = (name: string) => w1.networks.find((candidate: any) => candidate.interface === name)
    // enp1s0 and the bond's slaves eno1 and eno2 — not bond0 (their sum), cilium_*, tunl0, vxlan.calico, kube-ipvs0, nodelocaldns.
    const rx = nic('enp1s0').rx_rate + nic('eno1').rx_rate + nic('eno2').rx_rate
    const tx = nic('enp1s0').tx_rate + nic('eno1').tx_rate + nic('eno2').tx_rate
    expect(rx).toBe(1325001.25)
    const point = (await history(master, UID, 'worker-1'))[0]
    expect(point).toMatchObject({
      net_rx_bytes_ps: Math.round(rx), net_tx_bytes_ps: Math.round(tx),
      cpu_usage: round(w1.cpu.usage_percent, 100), mem_usage: round(w1.memory.usage_percent, 100),
      disk_usage: round(w1.disks[0].usage_percent, 100), temperature: round(w1.temperature.cpu_temp, 10),
      disk_read_bytes_ps: Math.round(w1.disks[0].read_rate), disk_write_bytes_ps: Math.round(w1.disks[0].write_rate), load_1: 3.42,
    })
    const gauge = await scrape(master)
    expect(gauge('node_network_receive_bytes_per_second')['worker-1']).toBe(rx)
    expect(gauge('node_network_transmit_bytes_per_second')['worker-1']).toBe(tx)
  })

  test('a dropped value is absent from its sample, not zero, and the rest of the node counts', async () => {
    const w2 = sent.node_metrics['worker-2']
    const point = (await history(master, UID, 'worker-2'))[0]
    expect(point.net_rx_bytes_ps).toBeNull()
    expect(point.net_tx_bytes_ps).toBe(Math.round(w2.networks[0].tx_rate + w2.networks[1].tx_rate)) // cilium_host left out
    expect(point.temperature).toBe(61)
    const edge = (await history(master, UID, 'edge-1'))[0]
    expect(edge.mem_usage).toBeNull()
    expect(edge.cpu_usage).toBe(round(sent.node_metrics['edge-1'].cpu.usage_percent, 100))
    const gauge = await scrape(master)
    expect(gauge('node_network_receive_bytes_per_second')['worker-2']).toBeUndefined()
    expect(gauge('node_memory_usage_percent')['edge-1']).toBeUndefined()
  })

  test("the summary covers what is true: edge-1's memory use is unknown, so its memory counts in neither total", async () => {
    const nodes = sent.node_metrics
    const { body: list } = await getJson(`${master.api}/api/v2/clusters/${UID}/node-metrics`)
    expect(Object.keys(list.nodes)).toEqual(names)
    expect(list.summary).toEqual({
      metrics_nodes: 3, online_nodes: 3, stale_nodes: 0,
      avg_cpu: (nodes['edge-1'].cpu.usage_percent + nodes['worker-1'].cpu.usage_percent + nodes['worker-2'].cpu.usage_percent) / 3,
      avg_memory: (nodes['worker-1'].memory.usage_percent + nodes['worker-2'].memory.usage_percent) / 2,
      max_temp: 61, max_temp_node: 'worker-2',
      max_disk: nodes['edge-1'].disks[0].usage_percent, max_disk_node: 'edge-1', max_disk_mount: '/',
      warning_nodes: 0,
      total_cores: 2 + 8 + 4,
      total_mem_bytes: nodes['worker-1'].memory.total + nodes['worker-2'].memory.total,
      used_mem_bytes: nodes['worker-1'].memory.used + nodes['worker-2'].memory.used,
    })
  })

  test("AtlHyper's own read routes answer in AtlHyper's shapes", async () => {
    const nodes = sent.node_metrics
    const { status, body: list } = await getJson(`${master.api}/api/v2/node-metrics?cluster_id=${UID}`)
    expect(status).toBe(200)
    expect(list.nodes.map((node: any) => node.node_name)).toEqual(names)
    expect(list.nodes[1]).toEqual(JSON.parse(goNodeText(body, 'worker-1', names)))
    const primary = (name: string) => nodes[name].disks[0]
    expect(list.summary).toEqual({
      total_nodes: 3, online_nodes: 3, offline_nodes: 0,
      avg_cpu_usage: (nodes['edge-1'].cpu.usage_percent + nodes['worker-1'].cpu.usage_percent + nodes['worker-2'].cpu.usage_percent) / 3,
      avg_memory_usage: (nodes['worker-1'].memory.usage_percent + nodes['worker-2'].memory.usage_percent) / 2,
      avg_disk_usage: (primary('edge-1').usage_percent + primary('worker-1').usage_percent + primary('worker-2').usage_percent) / 3,
      max_cpu_usage: nodes['edge-1'].cpu.usage_percent,
      max_memory_usage: nodes['worker-2'].memory.usage_percent,
      max_disk_usage: primary('edge-1').usage_percent,
      avg_cpu_temp: (49 + 52.875 + 61) / 3,
      max_cpu_temp: 61,
      total_memory: nodes['worker-1'].memory.total + nodes['worker-2'].memory.total,
      used_memory: nodes['worker-1'].memory.used + nodes['worker-2'].memory.used,
      total_disk: primary('edge-1').total + primary('worker-1').total + primary('worker-2').total,
      used_disk: primary('edge-1').used + primary('worker-1').used + primary('worker-2').used,
      // Physical interfaces; worker-2's rx is dropped this sample.
      total_network_rx: Math.round(48202.095578681656 + 1325001.25),
      total_network_tx: Math.round(12874.621658266446 + 350001.5 + 412000.3 + 110000.3),
    })
    const detail = await (await fetch(`${master.api}/api/v2/node-metrics/worker-2?cluster_id=${UID}`)).text()
    expect(detail).toBe(goNodeText(body, 'worker-2', names))

    const { body: trend } = await getJson(`${master.api}/api/v2/node-metrics/worker-1/history?cluster_id=${UID}&hours=2`)
    expect(trend.node_name).toBe('worker-1')
    expect(Date.parse(trend.end) - Date.parse(trend.start)).toBe(2 * HOUR)
    expect(trend.data).toHaveLength(1)
    const w1 = nodes['worker-1']
    expect(trend.data[0]).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d[05]:00\.000Z$/), node_name: 'worker-1',
      cpu_usage: round(w1.cpu.usage_percent, 100), memory_usage: round(w1.memory.usage_percent, 100),
      disk_usage: round(w1.disks[0].usage_percent, 100), disk_io_read: Math.round(w1.disks[0].read_rate),
      disk_io_write: Math.round(w1.disks[0].write_rate), network_rx: 1325001, network_tx: Math.round(350001.5),
      cpu_temp: 52.9, load_1: 3.42,
    })
    // AtlHyper's shapes have no null: worker-2's dropped rx reads 0 there, as it would have in AtlHyper.
    const { body: w2 } = await getJson(`${master.api}/api/v2/node-metrics/worker-2/history?cluster_id=${UID}`)
    expect(w2.data[0].network_rx).toBe(0)
    expect((await getJson(`${master.api}/api/v2/node-metrics`)).status).toBe(400)
    expect((await getJson(`${master.api}/api/v2/node-metrics/nope?cluster_id=${UID}`)).status).toBe(404)
  })
})

describe('the first snapshot after an agent restart: nil slices and an unmeasured CPU', () => {
  const master = useMaster()

  test('stored as sent; nothing it did not measure reads as 0', async () => {
    const body = atlhyperFixture('v2-first-after-restart')
    const response = await postLikeAtlHyper(master.ingest, body, UID)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', nodes: 1 })
    const served = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/worker-3`)).text()
    expect(served).toBe(goNodeText(body, 'worker-3', ['worker-3']))
    expect(JSON.parse(served)).toMatchObject({ disks: null, networks: null, processes: null, cpu: { per_core: null }, temperature: { sensors: null } })
    const point = (await history(master, UID, 'worker-3'))[0]
    expect(point).toMatchObject({
      cpu_usage: null, load_1: null, disk_usage: null, net_rx_bytes_ps: null, temperature: null,
      mem_usage: round(JSON.parse(body).node_metrics['worker-3'].memory.usage_percent, 100),
    })
    const { body: list } = await getJson(`${master.api}/api/v2/clusters/${UID}/node-metrics`)
    expect(list.summary).toMatchObject({ avg_cpu: null, max_temp: null, max_disk: null, total_cores: 0, total_mem_bytes: 67337621504 })
  })
})

describe('a cloud VM: no temperature sensors, a virtio NIC of unknown speed', () => {
  const master = useMaster()

  test('no temperature anywhere — not 0 °C — and the NIC rate counts', async () => {
    const body = atlhyperFixture('v2-vm-no-sensors')
    expect((await postLikeAtlHyper(master.ingest, body, UID)).status).toBe(200)
    const vm = JSON.parse(body).node_metrics['vm-1']
    const point = (await history(master, UID, 'vm-1'))[0]
    expect(point).toMatchObject({ temperature: null, temperature_max: null, cpu_usage: 47.5, net_rx_bytes_ps: Math.round(vm.networks[0].rx_rate) })
    const { body: list } = await getJson(`${master.api}/api/v2/clusters/${UID}/node-metrics`)
    expect(list.summary).toMatchObject({ max_temp: null, max_temp_node: null, avg_cpu: 47.5, total_cores: 2 })
    expect((await scrape(master))('node_cpu_temperature_celsius')).toEqual({})
  })
})

describe('the node_exporter-fed agent: psi, tcp, system, vmstat, ntp, softnet, and no processes', () => {
  const master = useMaster()

  test('booleans and int64 extremes in the extra groups are kept; figures come from eth0 alone', async () => {
    const body = atlhyperFixture('v2-node-exporter')
    const response = await postLikeAtlHyper(master.ingest, body, UID)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', nodes: 2 })
    const served = await (await fetch(`${master.api}/api/v2/clusters/${UID}/node-metrics/ne-1`)).text()
    expect(served).toBe(goNodeText(body, 'ne-1', ['ne-1', 'ne-2']))
    expect(served).toContain('"synced":true')
    expect(served).toContain('"filefd_maximum":-9223372036854775808')
    const nodes = JSON.parse(body).node_metrics
    const ne1 = (await history(master, UID, 'ne-1'))[0]
    // cilium_* and lxc_health are virtual, cilium_vxlan and docker0 down: eth0 is the node's traffic.
    // "/" is sda2, but this agent puts sda's I/O on the disk's first partition (sda1, /boot/efi).
    expect(ne1).toMatchObject({
      net_rx_bytes_ps: Math.round(nodes['ne-1'].networks[4].rx_rate), temperature: 54, disk_usage: round(nodes['ne-1'].disks[1].usage_percent, 100),
      disk_read_bytes_ps: Math.round(nodes['ne-1'].disks[0].read_rate), disk_write_bytes_ps: Math.round(nodes['ne-1'].disks[0].write_rate),
    })
    const ne2 = (await history(master, UID, 'ne-2'))[0]
    expect(ne2).toMatchObject({ net_rx_bytes_ps: Math.round(nodes['ne-2'].networks[2].rx_rate), temperature: null })
  })
})

describe("the current agent's model_v3 snapshot (camelCase, node metrics under otel.metricsNodes)", () => {
  const master = useMaster()

  test('recognised, mapped onto NodeMetricsSnapshot and stored — no more silent 200', async () => {
    const body = atlhyperFixture('v3-snapshot')
    const response = await postLikeAtlHyper(master.ingest, body, 'prod-v3')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', nodes: 2 })
    const sent = JSON.parse(body).otel.metricsNodes
    const { body: node } = await getJson(`${master.api}/api/v2/clusters/prod-v3/node-metrics/v3-node-1`)
    const v3 = sent[0]
    expect(node).toMatchObject({
      node_name: 'v3-node-1', timestamp: v3.timestamp, node_ip: '10.0.0.11', kernel: v3.kernel, uptime: v3.uptime,
      cpu: { usage_percent: 27.56, user_percent: v3.cpu.userPct, load_1: 1.23, cores: 4 },
      memory: { total: v3.memory.totalBytes, available: v3.memory.availableBytes, used: v3.memory.totalBytes - v3.memory.availableBytes, usage_percent: 40.92 },
      temperature: { cpu_temp: 54, cpu_temp_max: 84, cpu_temp_critical: 100 },
      psi: { cpu_some_percent: 1.22, io_full_percent: 2.2 },
      tcp: { curr_estab: 412, time_wait: 1203 },
      system: { filefd_maximum: v3.system.filefdMax },
    })
    expect(node.disks[0]).toEqual({
      device: '/dev/sda2', mount_point: '/', fs_type: 'ext4', total: v3.disks[0].totalBytes, used: v3.disks[0].totalBytes - v3.disks[0].availBytes,
      available: v3.disks[0].availBytes, usage_percent: 31.38, read_rate: 0, write_rate: 0, read_iops: 0, write_iops: 0, io_util: 0,
    })
    // speedBps is bytes/s: 125,000,000 B/s is 1000 Mbit/s; up is a boolean.
    expect(node.networks[0]).toMatchObject({ interface: 'eth0', status: 'up', speed: 1000, rx_rate: 1250000.47, rx_packets_ps: 1399.8 })
    expect(node.networks[2]).toMatchObject({ interface: 'flannel.1', status: 'down' })
    expect(node.temperature.sensors[4]).toEqual({ name: 'nvme_nvme0', label: 'temp2', current: 38.85, max: 65261.85, critical: 0 })

    const point = (await history(master, 'prod-v3', 'v3-node-1'))[0]
    expect(point).toMatchObject({ cpu_usage: 27.56, mem_usage: 40.92, disk_usage: 31.38, temperature: 54, net_rx_bytes_ps: 1250000, load_1: 1.23 })
    // model_v3 lists a disk's I/O on an entry of its own ("sda", no mount): that is "/"'s device.
    expect(point).toMatchObject({ disk_read_bytes_ps: v3.disks[2].readBytesPerSec, disk_write_bytes_ps: Math.round(v3.disks[2].writeBytesPerSec) })
    const second = (await history(master, 'prod-v3', 'v3-node-2'))[0]
    expect(second).toMatchObject({ net_rx_bytes_ps: Math.round(sent[1].networks[1].rxBytesPerSec), temperature: 61 }) // eth0 only
    const { body: list } = await getJson(`${master.api}/api/v2/clusters/prod-v3/node-metrics`)
    expect(list.summary).toMatchObject({ metrics_nodes: 2, avg_cpu: (27.56 + 42.48) / 2, max_temp: 61, max_temp_node: 'v3-node-2' })
    // The envelope is kept as the agent sent it, camelCase and all.
    expect(master.hub.envelopeText('prod-v3')).toBe(body)
  })

  test("the agent's command poll is held, then answered with AtlHyper's \"no command\" (204); a stop ends it at once", async () => {
    const other = await startTestMaster()
    try {
      let answered: number | undefined
      const poll = fetch(`${other.ingest}/agent/commands?cluster_id=c&topic=ops`, { headers: { 'X-Cluster-ID': 'c' } })
        .then((response) => (answered = response.status))
      await Bun.sleep(300)
      expect(answered).toBeUndefined() // held, as a long poll is: the agent does not spin
      const stopped = performance.now()
      await other.stop()
      await poll
      expect(answered).toBe(204)
      expect(performance.now() - stopped).toBeLessThan(5_000)
    } finally {
      removeDb(other.dbPath)
    }
  })

  test('a mapped node keeps what the agent wrote: int64 extremes, 1e400, and fields this master does not know', async () => {
    const body = atlhyperFixture('v3-snapshot', Date.now() - 500)
      .replace('"nodeName":"v3-node-2",', '"nodeName":"v3-node-2","gpu":{"model":"L4","memBytes":9007199254740993},')
      .replace('"pgFaultPerSec":', '"pgFaultExact":1e400,"pgFaultPerSec":')
      .replace(/"memory":\{"totalBytes":\d+,"availableBytes":\d+/, '"memory":{"totalBytes":9223372036854775807,"availableBytes":1')
    expect((await postLikeAtlHyper(master.ingest, body, 'prod-v3')).status).toBe(200)
    const one = await (await fetch(`${master.api}/api/v2/clusters/prod-v3/node-metrics/v3-node-1`)).text()
    expect(one).toContain('"filefd_maximum":-9223372036854775808') // the fixture's MinInt64, not …776000
    expect(one).toContain('"pgFaultExact":1e400')
    expect(one).toContain('"total":9223372036854775807,"used":9223372036854775806,"available":1') // used = total − available, exactly
    const two = await (await fetch(`${master.api}/api/v2/clusters/prod-v3/node-metrics/v3-node-2`)).text()
    expect(two).toContain('"gpu":{"model":"L4","memBytes":9007199254740993}')
  })

  test('values a model_v3 node gets wrong are named by their paths in its body', async () => {
    const sent = JSON.parse(atlhyperFixture('v3-snapshot', Date.now() + 1_000)) // newer than the earlier posts
    const node = sent.otel.metricsNodes[0]
    node.cpu.usagePct = 150
    node.networks[0].rxBytesPerSec = 1.8446744073709552e18
    node.memory.availableBytes = node.memory.totalBytes + 1
    const response = await postLikeAtlHyper(master.ingest, JSON.stringify(sent), 'prod-v3')
    expect(await response.json()).toEqual({
      status: 'ok', nodes: 2, dropped_total: 3,
      dropped: [
        { path: '/otel/metricsNodes/0/cpu/usagePct', reason: 'out_of_range' },
        { path: '/otel/metricsNodes/0/networks/0/rxBytesPerSec', reason: 'above_link_speed' },
        { path: '/otel/metricsNodes/0/memory/availableBytes', reason: 'negative' }, // used = total − available
      ],
    })
  })

  test('a model_v3 envelope without node metrics is a 200 that says so', async () => {
    const response = await postLikeAtlHyper(master.ingest, JSON.stringify({ clusterId: 'prod-v3', fetchedAt: new Date().toISOString(), pods: null }), 'prod-v3')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', nodes: 0 })
  })
})
