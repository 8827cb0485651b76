import { expect, setDefaultTimeout, test } from 'bun:test'
import { FIGURES } from '../src/model/figures'
import { getJson, useMaster } from './support/master'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const master = useMaster()

test('/swagger/json documents every route with its parameters and response schemas', async () => {
  const { status, body } = await getJson(`${master.api}/swagger/json`)
  expect(status).toBe(200)
  const paths = body.paths as Record<string, any>
  expect(Object.keys(paths).sort()).toEqual([
    '/api/v2/clusters',
    '/api/v2/clusters/{clusterId}/history',
    '/api/v2/clusters/{clusterId}/node-metrics',
    '/api/v2/clusters/{clusterId}/node-metrics/{nodeName}',
    '/api/v2/clusters/{clusterId}/node-metrics/{nodeName}/history',
    '/api/v2/clusters/{clusterId}/snapshot',
    '/api/v2/node-metrics',
    '/api/v2/node-metrics/{nodeName}',
    '/api/v2/node-metrics/{nodeName}/history',
    '/agent/snapshot',
    '/agent/heartbeat',
    '/agent/commands',
    '/healthz',
    '/metrics',
    '/api/v2/alerts',
    '/api/v2/alerts/history',
    '/api/v2/alert-rules',
  ].sort())
  // The rules document in the PUT body is the rules file's: the same schema.
  const rulesBody = paths['/api/v2/alert-rules'].put.requestBody.content['application/json'].schema
  expect(Object.keys(rulesBody.properties)).toEqual(['rules', 'notify'])
  expect(Object.keys(rulesBody.properties.rules.items.properties)).toEqual([
    'name', 'figure', 'op', 'threshold', 'for', 'resolve', 'severity', 'clusters', 'nodes', 'description',
  ])
  const schemaOf = (path: string, code = '200') => paths[path].get.responses[code].content['application/json'].schema

  const list = schemaOf('/api/v2/clusters/{clusterId}/node-metrics')
  expect(Object.keys(list.properties.summary.properties)).toContain('max_disk_mount')
  expect(Object.keys(list.properties.summary.properties)).toHaveLength(14)
  expect(Object.keys(list.properties.summary.properties)).toEqual(expect.arrayContaining(['online_nodes', 'stale_nodes']))
  expect(Object.keys(list.properties)).toEqual(['summary', 'node_status', 'node_figures', 'nodes'])
  expect(Object.keys(schemaOf('/api/v2/clusters').properties.clusters.items.properties)).toEqual([
    'cluster_id', 'agent', 'last_snapshot_at', 'last_heartbeat_at', 'nodes', 'online_nodes', 'stale_nodes', 'stale_after_ms',
  ])

  const detail = schemaOf('/api/v2/clusters/{clusterId}/node-metrics/{nodeName}')
  expect(Object.keys(detail.properties)).toEqual(expect.arrayContaining(['node_name', 'timestamp', 'cpu', 'memory', 'disks',
    'networks', 'temperature', 'processes', 'psi']))
  // Groups, lists and values may be null (Go's nil; a figure without samples): documented as "it, or null".
  const orNull = (schema: any) => {
    expect(schema.anyOf[1]).toEqual({ type: 'null' })
    return schema.anyOf[0]
  }
  expect(Object.keys(orNull(detail.properties.disks).items.properties)).toContain('io_util')
  expect(orNull(orNull(detail.properties.cpu).properties.usage_percent)).toEqual({ type: 'number' })
  expect(schemaOf('/api/v2/clusters/{clusterId}/node-metrics/{nodeName}', '404').required).toEqual(['error', 'message'])

  const history = paths['/api/v2/clusters/{clusterId}/node-metrics/{nodeName}/history'].get
  const hours = history.parameters.find((parameter: { name: string }) => parameter.name === 'hours')
  expect(hours.in).toBe('query')
  expect(JSON.stringify(hours.schema)).toContain('"maximum":720')
  const parameterNames = (operation: any) => operation.parameters.map((parameter: { name: string }) => parameter.name).sort()
  expect(parameterNames(history)).toEqual(['clusterId', 'end', 'hours', 'max_points', 'nodeName', 'start', 'step'])
  const historySchema = history.responses['200'].content['application/json'].schema
  expect(Object.keys(historySchema.properties)).toEqual(expect.arrayContaining(['start', 'end', 'step', 'tier', 'points', 'history']))
  // The registry's figures, each with its peak, and documented as nullable (a bucket without a sample of it).
  const pointProperties = historySchema.properties.history.items.properties
  expect(Object.keys(pointProperties)).toEqual(['timestamp', ...FIGURES.flatMap((figure) => [figure.field, `${figure.field}_max`])])
  expect(Object.keys(pointProperties)).toEqual(expect.arrayContaining(['disk_read_bytes_ps', 'disk_write_bytes_ps', 'load_1']))
  expect(orNull(pointProperties.temperature)).toEqual({ type: 'number' })
  expect(orNull(list.properties.summary.properties.max_temp)).toEqual({ type: 'number' })
  const fleet = paths['/api/v2/clusters/{clusterId}/history'].get
  expect(parameterNames(fleet)).toEqual(['clusterId', 'end', 'hours', 'max_points', 'metric', 'start', 'step'])
  expect(Object.keys(fleet.responses['200'].content['application/json'].schema.properties.nodes.additionalProperties?.items?.properties
    ?? fleet.responses['200'].content['application/json'].schema.properties.nodes.patternProperties['^(.*)$'].items.properties))
    .toEqual(['timestamp', 'value', 'max'])

  expect(schemaOf('/healthz').properties.writer).toBeDefined()

  // The agents' routes, on the ingest port, with the accept policy and the network rule.
  const snapshot = paths['/agent/snapshot']
  expect(snapshot.servers).toEqual([{ url: master.ingest, description: expect.stringContaining('INGEST_PORT') }])
  expect(snapshot.post.description).toContain('Values never refuse a snapshot')
  expect(snapshot.post.description).toContain('Network rate of a node')
  expect(snapshot.post.description).toContain('AGENT_ALLOW_NETWORKS')
  expect(Object.keys(snapshot.post.responses['200'].content['application/json'].schema.properties)).toEqual(['status', 'nodes', 'not_newer', 'dropped', 'dropped_total'])
  expect(snapshot.post.requestBody.content['application/json'].schema.oneOf.map((schema: { description: string }) => schema.description))
    .toEqual(["AtlHyper's model_v2 ClusterSnapshot", "AtlHyper's model_v3 ClusterSnapshot"])
  const atlhyper = paths['/api/v2/node-metrics/{nodeName}/history'].get
  expect(atlhyper.tags).toEqual(['atlhyper'])
  expect(Object.keys(atlhyper.responses['200'].content['application/json'].schema.properties.data.items.properties)).toEqual([
    'timestamp', 'node_name', 'cpu_usage', 'memory_usage', 'disk_usage', 'cpu_temp', 'network_rx', 'network_tx', 'disk_io_read', 'disk_io_write', 'load_1',
  ])
})

test('/swagger serves the UI page', async () => {
  const response = await fetch(`${master.api}/swagger`)
  expect(response.status).toBe(200)
  const page = await response.text()
  expect(page).toContain("SwaggerUIBundle({ url: '/swagger/json'")
  // Served by the master itself, not from a CDN.
  expect(page).toContain('src="/assets/swagger-ui-bundle.js"')
  expect(page).not.toMatch(/https?:\/\//)
  for (const name of ['constructor', '__proto__', 'toString']) expect((await fetch(`${master.api}/assets/${name}`)).status).toBe(404)
  const bundle = await fetch(`${master.api}/assets/swagger-ui-bundle.js`)
  expect(bundle.status).toBe(200)
  expect((await bundle.text()).length).toBeGreaterThan(100_000)
})
