import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/config'
import { DEFAULT_RULES } from '../src/alerts/rules'
import { disposeMaster, startTestMaster, type RunningMaster } from './support/master'

setDefaultTimeout(30_000)

const dir = mkdtempSync(join(tmpdir(), 'nmm-rules-'))
function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const configError = (text: string, name = 'rules.yaml') => {
  try {
    loadConfig({ ALERT_RULES: file(name, text) })
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('the rules were taken')
}

describe('ALERT_RULES: the rules file is checked at start, each problem with its line and field', () => {
  test('the issue’s example is taken as written, YAML or JSON', () => {
    const yaml = `rules:
  - name: cpu-high
    figure: cpu_usage        # any history figure, or stale / agent_offline
    op: ">="
    threshold: 90
    for: 5m
    resolve: 85              # optional hysteresis: resolves below this
    severity: warning
    clusters: ["*"]          # or names
    nodes: "*"               # glob on node names
notify:
  - type: webhook            # body = Alertmanager's webhook JSON (version "4")
    url: http://127.0.0.1:9000/hook
  - type: alertmanager       # POST {url}/api/v2/alerts
    url: http://127.0.0.1:9093
`
    const fromYaml = loadConfig({ ALERT_RULES: file('example.yaml', yaml) }).alertRules
    expect(fromYaml.source).toBe('file')
    expect(fromYaml.document.rules[0]).toEqual({
      name: 'cpu-high', figure: 'cpu_usage', op: '>=', threshold: 90, for: '5m', resolve: 85, severity: 'warning', clusters: ['*'], nodes: '*',
    })
    const fromJson = loadConfig({ ALERT_RULES: file('example.json', JSON.stringify(fromYaml.document, null, 2)) }).alertRules
    expect(fromJson.document).toEqual(fromYaml.document)
  })

  test('a wrong field, figure, type, missing threshold, resolve on the wrong side and a duplicate name: each named with its line', () => {
    const message = configError(`rules:
  - name: a
    figure: cpu
    op: ">="
    threshold: 90
  - name: b
    figure: mem_usage
    op: ">="
    threshhold: 80
  - name: c
    figure: temperature
    op: ">="
    threshold: hot
`)
    expect(message).toStartWith('ALERT_RULES: the rules file has problems:')
    expect(message).toContain('rules.yaml:9: rules[1].threshhold: not a field here (a typo?)')
    expect(message).toContain('rules.yaml:13: rules[2].threshold: "hot": expected')

    const semantic = configError(`rules:
  - name: a
    figure: cpu
    op: ">="
    threshold: 90
  - name: b
    figure: mem_usage
    op: ">="
    resolve: 95
  - name: a
    figure: stale
    threshold: 3
`)
    expect(semantic).toContain('rules.yaml:3: rules[0].figure: "cpu": expected a history figure (cpu_usage')
    expect(semantic).toContain('rules.yaml:6: rules[1].threshold: missing')
    expect(semantic).toContain('rules.yaml:10: rules[2].name: "a" is also the name of rules[0]')
    expect(semantic).toContain('rules.yaml:12: rules[2].threshold: not taken by stale')

    const hysteresis = configError('rules:\n  - {name: a, figure: cpu_usage, op: ">=", threshold: 90, resolve: 95}\n')
    expect(hysteresis).toContain('rules.yaml:2: rules[0].resolve: must not be above the threshold (90)')
  })

  test('text that does not parse is named by line and column; a missing file by its path', () => {
    expect(configError('rules:\n  - name: a\n   figure: [\n')).toMatch(/^ALERT_RULES: the rules file does not parse:\n {2}.*rules\.yaml:3:\d+: /)
    expect(configError('{"rules": [\n  {"name": "a",}\n]', 'broken.json')).toMatch(/broken\.json:3:2: Flow map must end with a }/)
    expect(() => loadConfig({ ALERT_RULES: join(dir, 'nope.yaml') })).toThrow(`ALERT_RULES: cannot read the rules file ${join(dir, 'nope.yaml')}: ENOENT`)
  })

  test('unset: the built-in defaults at the warning thresholds; none: no rules', () => {
    expect(loadConfig({}).alertRules.document).toEqual(DEFAULT_RULES)
    const names = DEFAULT_RULES.rules.map((rule) => `${rule.name}:${rule.figure}${rule.op ?? ''}${rule.threshold ?? ''}/${rule.for ?? 0}`)
    expect(names).toEqual([
      'cpu-high:cpu_usage>=80/5m', 'memory-high:mem_usage>=80/5m', 'cpu-temperature-high:temperature>=75/2m', 'disk-full:disk_usage>=90/0',
      'node-stale:stale/0', 'agent-offline:agent_offline/0',
    ])
    expect(loadConfig({ ALERT_RULES: 'none' }).alertRules.document.rules).toEqual([])
  })
})

describe('GET / PUT /api/v2/alert-rules', () => {
  const TOKEN = 'rules-token'
  let master: RunningMaster | undefined
  let env: Record<string, string>
  const auth = { authorization: `Bearer ${TOKEN}` }
  const get = async () => (await fetch(`${master!.api}/api/v2/alert-rules`, { headers: auth })).json() as Promise<any>
  const put = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${master!.api}/api/v2/alert-rules`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

  beforeAll(async () => {
    env = { API_TOKENS: TOKEN }
    master = await startTestMaster(env)
  })
  afterAll(async () => {
    master = await disposeMaster(master)
  })

  test('the defaults are in force, with every default filled in', async () => {
    const view = await get()
    expect(view.source).toBe('defaults')
    expect(view.rules.find((rule: any) => rule.name === 'cpu-high')).toEqual({
      name: 'cpu-high', figure: 'cpu_usage', op: '>=', threshold: 80, for: '5m', resolve: 75, severity: 'warning', clusters: ['*'], nodes: '*',
    })
    expect(view.notify).toEqual([])
  })

  test('a PUT needs a token, and a bad document is a 400 naming the field; nothing changes', async () => {
    expect((await put({ rules: [] }, {})).status).toBe(401)
    const shape = await put({ rules: [{ name: 'x', figure: 'cpu_usage', op: '=>', threshold: 1 }] })
    expect(shape.status).toBe(400)
    expect(await shape.json()).toEqual({ error: 'invalid_rules', message: 'rules[0].op: "=>": expected the comparison: >, >=, <, <=, == or != (figure rules; not for stale / agent_offline)' })
    // As in the file, a misspelled field is named, not dropped (Elysia's own validation would drop it).
    const typo = await put({ rules: [{ name: 'x', figure: 'cpu_usage', op: '>', threshold: 1, fro: '5m' }], notify: [{ type: 'webhook', url: 'http://127.0.0.1:9/', header: {} }] })
    expect(typo.status).toBe(400)
    expect(((await typo.json()) as any).message).toBe('notify[0].header: not a field here (a typo?); rules[0].fro: not a field here (a typo?)')
    const badUrl = await put({ rules: [], notify: [{ type: 'webhook', url: 'http://a b/' }] })
    expect(((await badUrl.json()) as any).message).toBe('notify[0].url: "http://a b/" is not a URL')
    const semantic = await put({ rules: [{ name: 'x', figure: 'cpu_usage', op: '>', threshold: 1, resolve: 2 }] })
    expect(semantic.status).toBe(400)
    expect(await semantic.json()).toEqual({ error: 'invalid_rules', message: 'rules[0].resolve: must not be above the threshold (1): it is the level the figure must fall below' })
    expect((await get()).source).toBe('defaults')
  })

  test('a PUT puts rules in force at once and keeps them across a restart; secrets in targets are hidden and never taken back masked', async () => {
    const rules = [{ name: 'hot', figure: 'temperature', op: '>', threshold: 80, nodes: 'gpu-*', clusters: ['prod'], severity: 'critical' }]
    const notify = [
      { type: 'slack', url: 'https://hooks.slack.example/services/T000/B000/SECRET' },
      { type: 'webhook', url: 'http://user:pw@127.0.0.1:9/hook?key=SECRET', headers: { Authorization: 'Bearer SECRET' } },
    ]
    const answer = await put({ rules, notify })
    expect(answer.status).toBe(200)
    const view = (await answer.json()) as any
    expect(view.source).toBe('api')
    expect(view.rules).toEqual([{ ...rules[0], for: 0 }])
    expect(view.notify).toEqual([
      { type: 'slack', url: 'https://hooks.slack.example/***' },
      { type: 'webhook', url: 'http://***@127.0.0.1:9/***?***', headers: { Authorization: '***' } },
    ])
    expect(JSON.stringify(await get())).not.toContain('SECRET')

    const masked = await put({ rules, notify: view.notify })
    expect(masked.status).toBe(400)
    expect(((await masked.json()) as any).message).toContain('notify[0]: holds ***')
    // Without notify the targets stay.
    expect((await put({ rules: [] })).status).toBe(200)
    expect((await get()).notify).toHaveLength(2)

    const dbPath = master!.dbPath
    await master!.stop()
    master = await startTestMaster(env, dbPath)
    const after = await get()
    expect(after.source).toBe('api')
    expect(after.rules).toEqual([])
    expect(after.notify).toHaveLength(2)
  })

  test('once ALERT_RULES changes, the configured rules win over those PUT before', async () => {
    const dbPath = master!.dbPath
    await master!.stop()
    env = { ...env, ALERT_RULES: 'none' }
    master = await startTestMaster(env, dbPath)
    const view = await get()
    expect(view.source).toBe('none')
    expect(view.notify).toEqual([])
  })
})

test('the README’s rules example is a valid rules file', () => {
  const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8') as string
  const section = readme.slice(readme.indexOf('## Alerts'))
  const example = /```yaml\n([\s\S]*?)```/.exec(section)![1]!
  const rules = loadConfig({ ALERT_RULES: file('readme.yaml', example) }).alertRules.document
  expect(rules.rules.map((rule) => rule.name)).toEqual(['cpu-high', 'gpu-hot', 'network-quiet', 'node-stale', 'agent-offline'])
  expect(rules.notify!.map((target) => target.type)).toEqual(['webhook', 'slack', 'alertmanager'])
})
