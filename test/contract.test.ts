import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { validate, type Schema } from './support/json-schema'
import { postSnapshot, useMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * The published spec is the contract: for every gateway operation /swagger/json lists, valid and
 * invalid requests get only statuses the spec documents for it, and every JSON body (and the
 * node route's headers) validates against the schema documented for that status.
 */
const TOKEN = 'contract'
const master = useMaster({ API_TOKENS: TOKEN, SAMPLE_INTERVAL: '1m' })

let doc: { paths: Record<string, Record<string, any>> }
beforeAll(async () => {
  const now = Date.now()
  for (const minutes of [30, 20, 10, 1]) {
    const body = clusterSnapshot('c', [nodeSnapshot('n1', now - minutes * 60_000, { cpu: minutes }), nodeSnapshot('n2', now - minutes * 60_000)])
    expect((await postSnapshot(master.ingest, body, { clusterId: 'c' })).status).toBe(200)
  }
  doc = (await (await fetch(`${master.api}/swagger/json`)).json()) as typeof doc
})

/** A value the parameter's schema refuses. */
function invalidValue(name: string, schema: Schema): string {
  if (schema.type === 'integer') return '0x10'
  if (name === 'metric') return 'nope'
  if (name === 'start' || name === 'end') return 'yesterday'
  if (name === 'step') return 'soon'
  return 'a..b' // a name: `..` is refused
}

interface Call { label: string; url: string; headers: Record<string, string>; body?: string }

/** A body route (PUT /api/v2/alert-rules): a valid body, one the schema refuses, one only the rules check refuses, and no or a wrong token. */
function bodyCallsFor(path: string): Call[] {
  const url = `${master.api}${path}`
  const json = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }
  const valid = JSON.stringify({ rules: [{ name: 'contract', figure: 'cpu_usage', op: '>', threshold: 99 }] })
  return [
    { label: 'valid', url, headers: json, body: valid },
    { label: 'no token', url, headers: { 'content-type': 'application/json' }, body: valid },
    { label: 'wrong token', url, headers: { ...json, authorization: 'Bearer nope' }, body: valid },
    { label: 'bad shape', url, headers: json, body: JSON.stringify({ rules: [{ name: 'x', figure: 'cpu_usage', op: '=>' }] }) },
    { label: 'bad rule', url, headers: json, body: JSON.stringify({ rules: [{ name: 'x', figure: 'cpu', op: '>', threshold: 1 }] }) },
    { label: 'not JSON', url, headers: json, body: '{"rules": [' },
  ]
}

function callsFor(path: string, operation: any): Call[] {
  const parameters: any[] = operation.parameters ?? []
  const valid: Record<string, string> = { clusterId: 'c', nodeName: 'n1', cluster_id: 'c', metric: 'cpu_usage' }
  const build = (values: Record<string, string>, query: Record<string, string>) => {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name]!))
    const search = new URLSearchParams(query).toString()
    return `${master.api}${filled}${search ? `?${search}` : ''}`
  }
  const pathValues = Object.fromEntries(parameters.filter((p) => p.in === 'path').map((p) => [p.name, valid[p.name]!]))
  const required = Object.fromEntries(parameters.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, valid[p.name]!]))
  const auth = { authorization: `Bearer ${TOKEN}` }
  const calls: Call[] = [
    { label: 'valid', url: build(pathValues, required), headers: auth },
    { label: 'no token', url: build(pathValues, required), headers: {} },
    { label: 'wrong token', url: build(pathValues, required), headers: { authorization: 'Bearer nope' } },
  ]
  for (const parameter of parameters) {
    const bad = invalidValue(parameter.name, parameter.schema)
    if (parameter.in === 'path') {
      calls.push({ label: `bad ${parameter.name}`, url: build({ ...pathValues, [parameter.name]: bad }, required), headers: auth })
      if (parameter.name === 'nodeName') calls.push({ label: 'unknown node', url: build({ ...pathValues, nodeName: 'nobody' }, required), headers: auth })
      if (parameter.name === 'clusterId') calls.push({ label: 'unknown cluster', url: build({ ...pathValues, clusterId: 'nowhere' }, required), headers: auth })
    } else {
      calls.push({ label: `bad ${parameter.name}`, url: build(pathValues, { ...required, [parameter.name]: bad }), headers: auth })
      if (parameter.required) {
        const { [parameter.name]: _, ...rest } = required
        calls.push({ label: `no ${parameter.name}`, url: build(pathValues, rest), headers: auth })
      }
      if (parameter.schema?.type === 'integer') {
        calls.push({ label: `${parameter.name} at its maximum`, url: build(pathValues, { ...required, [parameter.name]: String(parameter.schema.maximum) }), headers: auth })
      }
    }
  }
  if (parameters.some((p) => p.name === 'cluster_id')) {
    calls.push({ label: 'unknown cluster_id', url: build(pathValues, { ...required, cluster_id: 'nowhere' }), headers: auth })
  }
  return calls
}

describe('every gateway operation of /swagger/json answers as the spec says', () => {
  test('statuses are documented, bodies and headers validate', async () => {
    const problems: string[] = []
    let checked = 0
    for (const [path, item] of Object.entries(doc.paths)) {
      if (item.servers) continue // the ingest port's routes: documented for agents, tested in their own files
      // A method the spec does not list: 405 naming the ones it does.
      const allowed = Object.keys(item).flatMap((method) => (method === 'get' ? ['GET', 'HEAD'] : [method.toUpperCase()])).sort().join(', ')
      for (const [method, operation] of Object.entries(item)) {
        expect(['get', 'put']).toContain(method)
        for (const call of method === 'get' ? callsFor(path, operation) : bodyCallsFor(path)) {
          const response = await fetch(call.url, { method: method.toUpperCase(), headers: call.headers, body: call.body })
          const where = `${method.toUpperCase()} ${path} (${call.label}) → ${response.status}`
          const documented = operation.responses[String(response.status)]
          if (!documented) {
            problems.push(`${where}: status not documented (${Object.keys(operation.responses).join(', ')}): ${(await response.text()).slice(0, 120)}`)
            continue
          }
          const type = response.headers.get('content-type') ?? ''
          if (type.startsWith('application/json')) {
            const schema = documented.content?.['application/json']?.schema
            if (!schema) problems.push(`${where}: a JSON body, none documented`)
            else problems.push(...validate(schema, await response.json(), doc as Schema).map((error) => `${where}: ${error}`))
          } else if (!Object.keys(documented.content ?? {}).some((documentedType) => type.startsWith(documentedType))) {
            problems.push(`${where}: content-type ${type} not documented`)
          }
          for (const [name, header] of Object.entries((documented.headers ?? {}) as Record<string, any>)) {
            const value = response.headers.get(name)
            if (value === null) problems.push(`${where}: documented header ${name} missing`)
            else if (header.schema) problems.push(...validate(header.schema, value).map((error) => `${where}: header ${name}${error}`))
            else problems.push(...validate(header.content['application/json'].schema, JSON.parse(value)).map((error) => `${where}: header ${name}${error}`))
          }
          checked++
        }
        const wrong = await fetch(callsFor(path, operation)[0]!.url, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })
        if (wrong.status !== 405 || wrong.headers.get('allow') !== allowed) problems.push(`DELETE ${path} → ${wrong.status} allow ${wrong.headers.get('allow')}`)
      }
    }
    expect(problems).toEqual([])
    expect(checked).toBeGreaterThan(60)
  })

  test('every token-guarded operation documents 401 and its security', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (item.servers || path === '/healthz') continue
      for (const operation of Object.values(item) as any[]) {
        expect(Object.keys(operation.responses)).toContain('401')
        expect(operation.security).toEqual([{ bearer: [] }])
      }
    }
  })
})

describe("the agent routes answer as the spec documents them (ingest port)", () => {
  test('snapshot and heartbeat: statuses documented, bodies validate', async () => {
    const problems: string[] = []
    const json = { 'content-type': 'application/json', 'x-cluster-id': 'c' }
    const snapshot = JSON.stringify(clusterSnapshot('c', [nodeSnapshot('n1', Date.now() - 1_000)]))
    const calls: [string, RequestInit][] = [
      ['/agent/snapshot', { method: 'POST', headers: json, body: snapshot }],
      ['/agent/snapshot', { method: 'POST', headers: json, body: '{"cluster_id":' }],
      ['/agent/snapshot', { method: 'POST', headers: json, body: '[]' }],
      ['/agent/snapshot', { method: 'POST', headers: { ...json, 'content-type': 'text/plain' }, body: snapshot }],
      ['/agent/snapshot', { method: 'POST', headers: { ...json, 'content-encoding': 'gzip' }, body: 'not gzip' }],
      ['/agent/snapshot', { method: 'POST', headers: { ...json, 'x-cluster-id': 'other' }, body: snapshot }],
      ['/agent/heartbeat', { method: 'POST', headers: json, body: '' }],
      ['/agent/heartbeat', { method: 'POST', headers: json, body: '{"cluster_id": 5}' }],
      ['/agent/heartbeat', { method: 'POST', headers: { ...json, 'content-type': 'text/plain' }, body: '{}' }],
    ]
    for (const [path, init] of calls) {
      const operation = doc.paths[path]!.post
      const response = await fetch(`${master.ingest}${path}`, init)
      const where = `POST ${path} ${String(init.body).slice(0, 20)} → ${response.status}`
      const documented = operation.responses[String(response.status)]
      if (!documented) {
        problems.push(`${where}: status not documented (${Object.keys(operation.responses).join(', ')})`)
        continue
      }
      const schema = documented.content?.['application/json']?.schema
      if (!schema) problems.push(`${where}: no body documented`)
      else problems.push(...validate(schema, await response.json(), doc as Schema).map((error) => `${where}: ${error}`))
    }
    expect(problems).toEqual([])
  })
})
