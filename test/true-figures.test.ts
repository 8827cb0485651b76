import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { disposeMaster, getJson, postSnapshot, type RunningMaster, startTestMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

let master: RunningMaster | undefined
afterEach(async () => {
  master = await disposeMaster(master)
})

/** A node whose temperature is given, or that reports none at all (a VM). */
function node(ts: number, temp: number | undefined, cpu = 10) {
  const snapshot: any = nodeSnapshot('n1', ts, { cpu, temp })
  if (temp === undefined) delete snapshot.temperature
  return snapshot
}

async function post(snapshot: unknown, clusterId = 'c') {
  const response = await postSnapshot(master!.ingest, clusterSnapshot(clusterId, [snapshot as any]), { clusterId })
  expect(response.status).toBe(200)
  return response.json()
}

describe('per-figure averages: a sample without a figure is not a zero', () => {
  test('temperatures 10, (missing), 40 in one bucket average 25, in every tier, roll-up and route', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1m' })
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000
    await post(node(minute + 1_000, 10, 20))
    await post(node(minute + 2_000, undefined, 30))
    await post(node(minute + 3_000, 40, 40))
    const url = `${master.api}/api/v2/clusters/c/node-metrics/n1/history`
    const raw = (await getJson(`${url}?hours=1`)).body.history
    expect(raw).toHaveLength(1)
    expect(raw[0]).toMatchObject({ temperature: 25, temperature_max: 40, cpu_usage: 30, cpu_usage_max: 40 })
    // The hourly tier and any widened bucket keep per-figure counts too.
    const hourly = (await getJson(`${url}?start=${minute}&step=1h`)).body
    expect(hourly.tier).toBe('hourly')
    expect(hourly.history[0]).toMatchObject({ temperature: 25, cpu_usage: 30 })
    const fleet = (await getJson(`${master.api}/api/v2/clusters/c/history?metric=temperature&start=${minute - 60_000}&step=10m`)).body
    expect(fleet.nodes.n1).toEqual([{ timestamp: Math.floor(minute / 600_000) * 600_000, value: 25, max: 40 }])
  })

  test('a bucket in which no sample had the figure reads null, and a widened bucket averages only the samples that had it', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 2 * 60_000
    await post(node(base, undefined))
    await post(node(base + 1_000, 50))
    await post(node(base + 2_000, undefined))
    const url = `${master.api}/api/v2/clusters/c/node-metrics/n1/history?start=${base}&end=${base + 3_000}`
    const points = (await getJson(url)).body.history
    expect(points.map((point: any) => point.temperature)).toEqual([null, 50, null])
    expect(points.map((point: any) => point.temperature_max)).toEqual([null, 50, null])
    expect((await getJson(`${url}&step=1h`)).body.history[0]).toMatchObject({ temperature: 50, temperature_max: 50 })
  })

  test('the summary: a node that reports no temperature is not 0 °C', async () => {
    master = await startTestMaster()
    await post(node(Date.now() - 1_000, undefined))
    const { body } = await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)
    expect(body.summary).toMatchObject({ max_temp: null, max_temp_node: null, avg_cpu: 10 })
  })
})

describe('NET_EXCLUDE', () => {
  test('reaches the ingest thread: with "none" every up interface counts, loopback included', async () => {
    master = await startTestMaster({ NET_EXCLUDE: 'none' })
    await post(node(Date.now() - 1_000, 50))
    const point = (await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)).body.history[0]
    expect(point.net_rx_bytes_ps).toBe(1000 + 99_999) // eth0 and lo; eth1 is down
  })
})

describe('dropped figures', () => {
  test('named in the 200, left out of history and /metrics, counted by field and reason; the snapshot is stored as sent', async () => {
    master = await startTestMaster({ SAMPLE_INTERVAL: '1s' })
    const ts = Math.floor(Date.now() / 1_000) * 1_000 - 10_000
    const odd: any = nodeSnapshot('n1', ts, { cpu: 180, temp: 55 })
    odd.memory.used = -4096
    odd.networks[0].rx_rate = 1.8446744073709552e18 // a counter reset read as unsigned
    const answer = await post(odd)
    expect(answer).toEqual({
      status: 'ok',
      nodes: 1,
      dropped: [
        { path: '/node_metrics/n1/cpu/usage_percent', reason: 'out_of_range' },
        { path: '/node_metrics/n1/networks/0/rx_rate', reason: 'above_link_speed' },
        { path: '/node_metrics/n1/memory/used', reason: 'negative' },
      ],
      dropped_total: 3,
    })
    expect((await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1`)).body).toEqual(odd)
    const point = (await getJson(`${master.api}/api/v2/clusters/c/node-metrics/n1/history?hours=1`)).body.history[0]
    expect(point).toMatchObject({ cpu_usage: null, net_rx_bytes_ps: null, net_tx_bytes_ps: 500, temperature: 55 })
    const summary = (await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)).body.summary
    expect(summary).toMatchObject({ avg_cpu: null, used_mem_bytes: 0, total_mem_bytes: 0, max_temp: 55 }) // used unknown: neither counts

    await Bun.sleep(1_200) // the ingest thread reports its counts once a second
    const families = parsePrometheusTextFormat(await (await fetch(`${master.api}/metrics`)).text()) as any[]
    const byName = new Map(families.map((family) => [family.name, family]))
    const dropped = byName.get('nmm_figures_dropped_total').metrics.map((metric: any) => [metric.labels.field, metric.labels.reason, metric.value])
    expect(dropped.sort()).toEqual([
      ['cpu.usage_percent', 'out_of_range', '1'], ['memory.used', 'negative', '1'], ['networks.rx_rate', 'above_link_speed', '1'],
    ])
    expect(byName.get('node_cpu_usage_percent')?.metrics ?? []).toEqual([])
    expect(byName.get('node_network_transmit_bytes_per_second').metrics[0].value).toBe('500')
  })

  test('a number JSON.parse reads as Infinity is a value like any other: stored as sent, dropped from the figures', async () => {
    master = await startTestMaster()
    const body = JSON.stringify(clusterSnapshot('c', [nodeSnapshot('n1', Date.now() - 1_000)])).replace('"total":8000000000', '"total":1e999')
    const response = await postSnapshot(master.ingest, body, { clusterId: 'c' })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ dropped: [{ path: '/node_metrics/n1/memory/total', reason: 'not_finite' }] })
    expect(await (await fetch(`${master.api}/api/v2/clusters/c/node-metrics/n1`)).text()).toContain('"total":1e999')
    expect((await getJson(`${master.api}/api/v2/clusters/c/node-metrics`)).body.summary.total_mem_bytes).toBe(0)
  })

  test('the answer names at most 100 dropped values and says how many there were', async () => {
    master = await startTestMaster()
    const nodes = Array.from({ length: 60 }, (_, index) => {
      const snapshot: any = nodeSnapshot(`n${index}`, Date.now() - 1_000, { cpu: -1 })
      snapshot.memory.usage_percent = 101
      return snapshot
    })
    const response = await postSnapshot(master.ingest, clusterSnapshot('c', nodes), { clusterId: 'c' })
    const body = (await response.json()) as { nodes: number; dropped: unknown[]; dropped_total: number }
    expect(body.nodes).toBe(60)
    expect(body.dropped).toHaveLength(100)
    expect(body.dropped_total).toBe(120)
  })
})
