import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { ATLHYPER_ZERO_NODE } from '../src/model/atlhyper'
import { atlhyperFixture, postLikeAtlHyper } from './support/atlhyper'
import { getJson, postSnapshot, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * AtlHyper's read routes serve AtlHyper's web UI, which reads a node's fields without checking
 * (`cpu.frequency.toFixed()`, `temperature.sensors`, `new Date(start_time * 1000)`): a node from
 * another agent must come in AtlHyper's shape, and the UI must be able to reach the API.
 */
describe("AtlHyper's read routes for AtlHyper's web UI", () => {
  const master = useMaster({ CORS_ORIGINS: 'http://atlhyper-ui.example:3000' })

  test('a node from another agent gets Go zero values for what it lacks; a node from AtlHyper is sent as it came', async () => {
    const sparse: any = { node_name: 'ours', timestamp: Date.now() - 2_000, cpu: { usage_percent: 12 }, processes: [{ pid: 1, start_time: '2026-11-01T00:00:00Z' }] }
    expect((await postSnapshot(master.ingest, clusterSnapshot('mixed', [sparse]), { clusterId: 'mixed' })).status).toBe(200)
    const body = atlhyperFixture('v2-vm-no-sensors').replace(/"cluster_id":"[^"]+"/, '"cluster_id":"mixed"')
    expect((await postLikeAtlHyper(master.ingest, body, 'mixed')).status).toBe(200)

    const { body: node } = await getJson(`${master.api}/api/v2/node-metrics/ours?cluster_id=mixed`)
    // Every field of AtlHyper's struct is there, and what the agent sent is kept.
    for (const [group, fields] of Object.entries(ATLHYPER_ZERO_NODE)) {
      if (fields !== null && typeof fields === 'object') expect(Object.keys(node[group]).sort()).toEqual(Object.keys(fields).sort())
      else expect(node).toHaveProperty(group)
    }
    expect(node.cpu).toMatchObject({ usage_percent: 12, frequency: 0, per_core: null })
    expect(node.temperature).toEqual({ cpu_temp: 0, cpu_temp_max: 0, sensors: null })
    expect(node.timestamp).toBe(new Date(sparse.timestamp).toISOString())
    expect(node.processes[0]).toMatchObject({ pid: 1, start_time: Date.parse('2026-11-01T00:00:00Z') / 1000, cmdline: '', cpu_percent: 0 })
    // Our own route still serves the node as it was sent.
    expect((await getJson(`${master.api}/api/v2/clusters/mixed/node-metrics/ours`)).body).toEqual(sparse)

    const vm = await (await fetch(`${master.api}/api/v2/node-metrics/vm-1?cluster_id=mixed`)).text()
    expect(JSON.parse(vm)).toEqual(JSON.parse(body).node_metrics['vm-1'])
    const { body: list } = await getJson(`${master.api}/api/v2/node-metrics?cluster_id=mixed`)
    expect(list.nodes.map((n: { node_name: string }) => n.node_name)).toEqual(['ours', 'vm-1'])
    expect(list.nodes[0].cpu.frequency).toBe(0)
  })

  test("a node given AtlHyper's shape keeps numbers JSON cannot hold exactly", async () => {
    const node = `{"node_name":"exact","timestamp":${Date.now() - 1_000},"cpu":{"usage_percent":1e400},"memory":{"total":9223372036854775807}}`
    const response = await postSnapshot(master.ingest, `{"cluster_id":"exact","node_metrics":{"exact":${node}}}`, { clusterId: 'exact' })
    expect(response.status).toBe(200)
    const served = await (await fetch(`${master.api}/api/v2/node-metrics/exact?cluster_id=exact`)).text()
    expect(served).toContain('"usage_percent":1e400')
    expect(served).toContain('"total":9223372036854775807')
    expect(served).toContain('"frequency":0') // and the zero values AtlHyper's UI needs
  })

  test('hours as AtlHyper reads it: anything but a positive integer is 24', async () => {
    await postSnapshot(master.ingest, clusterSnapshot('h', [nodeSnapshot('n1', Date.now() - 1_000)]), { clusterId: 'h' })
    const span = async (hours: string) => {
      const { status, body } = await getJson(`${master.api}/api/v2/node-metrics/n1/history?cluster_id=h&hours=${hours}`)
      expect(status).toBe(200)
      return (Date.parse(body.end) - Date.parse(body.start)) / 3_600_000
    }
    expect(await span('6')).toBe(6)
    expect(await span('0')).toBe(24)
    expect(await span('abc')).toBe(24)
    expect(await span('100000')).toBe(720)
    expect(await span('%2B5')).toBe(5) // "+5", as Go's strconv.Atoi reads it
    expect(await span('%205')).toBe(24) // " 5": Atoi fails
    expect(await span('99999999999999999999')).toBe(24) // past int64: Atoi fails
  })

  test('CORS_ORIGINS lets the UI on its own origin read the API, with its Authorization header; others get no grant', async () => {
    const url = `${master.api}/api/v2/node-metrics?cluster_id=h`
    const allowed = await fetch(url, { headers: { origin: 'http://atlhyper-ui.example:3000' } })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://atlhyper-ui.example:3000')
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'http://atlhyper-ui.example:3000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    })
    expect(preflight.status).toBeLessThan(300)
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
    const other = await fetch(url, { headers: { origin: 'http://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('without CORS_ORIGINS', () => {
  const master = useMaster()

  test('no page of another origin may read the API (an open API on loopback stays private to the browser)', async () => {
    const response = await fetch(`${master.api}/api/v2/clusters`, { headers: { origin: 'http://evil.example' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })
})
