import { describe, expect, setDefaultTimeout, test } from 'bun:test'
// A maintained parser of the text format: if the output is not valid exposition, this throws or misreads.
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { postSnapshot, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[] }

describe('GET /metrics', () => {
  const master = useMaster({ API_TOKENS: 'scrape-token' })
  const scrape = async () => {
    const response = await fetch(`${master.api}/metrics`, { headers: { authorization: 'Bearer scrape-token' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const families = parsePrometheusTextFormat(await response.text()) as Family[]
    return new Map(families.map((family) => [family.name, family]))
  }

  test('the master\'s own figures and a gauge per node figure, in a format Prometheus reads', async () => {
    const snapshot = clusterSnapshot('prod', [
      nodeSnapshot('n1', Date.now() - 500, { cpu: 42.5, mem: 61, temp: 55 }),
      nodeSnapshot('n2', Date.now() - 500, { cpu: 7, mem: 20, temp: 40 }),
    ])
    expect((await postSnapshot(master.ingest, snapshot, { clusterId: 'prod' })).status).toBe(200)
    expect((await postSnapshot(master.ingest, '{broken', { clusterId: 'prod' })).status).toBe(400)
    expect((await postSnapshot(master.ingest, snapshot, { clusterId: 'other' })).status).toBe(400)
    await Bun.sleep(1_200) // rejections are reported once a second

    const families = await scrape()
    expect(families.get('nmm_snapshots_received_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '1' }] })
    const rejected = families.get('nmm_snapshots_rejected_total')!.metrics
    expect(Object.fromEntries(rejected.map((metric) => [metric.labels!.reason, metric.value]))).toEqual({
      invalid_json: '1', cluster_id_mismatch: '1',
    })
    expect(families.get('nmm_commit_rows')).toMatchObject({ type: 'HISTOGRAM', metrics: [{ count: '1' }] })
    expect(families.get('nmm_commit_seconds')!.type).toBe('HISTOGRAM')
    expect(Number(families.get('nmm_database_bytes')!.metrics[0]!.value)).toBeGreaterThan(0)
    expect(families.get('nmm_writer_queue_rows')!.metrics[0]!.value).toBe('0')

    const byNode = (name: string) =>
      Object.fromEntries(families.get(name)!.metrics.map((metric) => [`${metric.labels!.cluster}/${metric.labels!.node}`, Number(metric.value)]))
    expect(byNode('node_cpu_usage_percent')).toEqual({ 'prod/n1': 42.5, 'prod/n2': 7 })
    expect(byNode('node_memory_usage_percent')).toEqual({ 'prod/n1': 61, 'prod/n2': 20 })
    expect(byNode('node_cpu_temperature_celsius')).toEqual({ 'prod/n1': 55, 'prod/n2': 40 })
    expect(byNode('node_online')).toEqual({ 'prod/n1': 1, 'prod/n2': 1 })
    expect(families.get('node_cpu_usage_percent')!.type).toBe('GAUGE')
  })

  test('it needs an API token when API_TOKENS is set', async () => {
    expect((await fetch(`${master.api}/metrics`)).status).toBe(401)
  })
})
