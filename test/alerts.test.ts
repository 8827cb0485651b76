import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { disposeMaster, postSnapshot, startTestMaster, type RunningMaster } from './support/master'
import { spawnMaster } from './support/master-process'
import { startReceiver, type Receiver } from './support/receiver'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'
import { waitFor } from './support/wait'

// Real servers, Workers and receivers: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const MINUTE = 60_000
const T = Date.now()
const at = (minutesAgo: number) => new Date(T - minutesAgo * MINUTE).toISOString()

function rulesFile(receiver: Receiver): string {
  const path = join(mkdtempSync(join(tmpdir(), 'nmm-rules-')), 'alerts.yaml')
  writeFileSync(
    path,
    `rules:
  - name: cpu-high
    figure: cpu_usage
    op: ">="
    threshold: 90
    for: 5m
    resolve: 85
    severity: warning
    description: CPU is saturated
  - name: node-stale
    figure: stale
    for: 1m
    severity: warning
  - name: agent-offline
    figure: agent_offline
    severity: critical
notify:
  - type: webhook
    url: ${receiver.url}/hook
  - type: slack
    url: ${receiver.url}/slack
`,
  )
  return path
}

/** One snapshot of cluster `c1` with nodes a and b at `cpu`, taken `minutesAgo`. */
async function post(master: RunningMaster, minutesAgo: number, cpu: number, nodes = ['a', 'b']): Promise<void> {
  const body = clusterSnapshot('c1', nodes.map((name) => nodeSnapshot(name, at(minutesAgo), { cpu })))
  const response = await postSnapshot(master.ingest, body, { clusterId: 'c1' })
  expect(response.status).toBe(200)
}

const api = async (master: RunningMaster, path: string) => (await fetch(`${master.api}${path}`)).json() as Promise<any>
const states = async (master: RunningMaster, query = '') =>
  ((await api(master, `/api/v2/alerts${query}`)).alerts as any[]).map((alert) => `${alert.rule}/${alert.node}:${alert.state}`).sort()

describe('alerts through the real pipeline into real receivers', () => {
  let receiver: Receiver
  let master: RunningMaster | undefined
  let dbPath: string
  let env: Record<string, string>

  beforeAll(async () => {
    receiver = startReceiver()
    env = { ALERT_RULES: rulesFile(receiver), AGENT_EXPIRE: '45s' }
    master = await startTestMaster(env)
    dbPath = master.dbPath
  })
  afterAll(async () => {
    master = await disposeMaster(master)
    receiver.stop()
  })

  test('pending until the condition has held for `for`, then one message for the rule and cluster, not one per node', async () => {
    await post(master!, 9, 95)
    await waitFor(async () => (await states(master!)).length === 2, 5_000)
    expect(await states(master!)).toEqual(['cpu-high/a:pending', 'cpu-high/b:pending'])
    await post(master!, 6, 96) // 3 minutes in: still pending
    await Bun.sleep(300)
    expect(await states(master!, '?state=firing')).toEqual([])
    expect(receiver.taken('/hook')).toHaveLength(0)

    await post(master!, 4, 97) // 5 minutes in: fires
    await waitFor(() => receiver.taken('/hook').length === 1 && receiver.taken('/slack').length === 1, 5_000)
    expect(await states(master!, '?state=firing')).toEqual(['cpu-high/a:firing', 'cpu-high/b:firing'])
    const hook = receiver.taken('/hook')[0]
    expect(hook.version).toBe('4')
    expect(hook.status).toBe('firing')
    expect(hook.groupLabels).toEqual({ alertname: 'cpu-high', cluster: 'c1' })
    expect(hook.commonLabels).toEqual({ alertname: 'cpu-high', cluster: 'c1', severity: 'warning' })
    expect(hook.alerts).toHaveLength(2)
    const alertA = hook.alerts.find((alert: any) => alert.labels.node === 'a')
    expect(alertA).toMatchObject({
      status: 'firing',
      labels: { alertname: 'cpu-high', cluster: 'c1', node: 'a', severity: 'warning' },
      annotations: { description: 'CPU is saturated', value: '97' },
      startsAt: at(9),
      endsAt: '0001-01-01T00:00:00Z',
    })
    expect(alertA.annotations.summary).toContain('cpu_usage on a')
    expect(receiver.taken('/slack')[0].text).toContain('[FIRING:2] cpu-high')
  })

  test('hysteresis: below the threshold but above `resolve` it keeps firing; below `resolve` one resolve message', async () => {
    await post(master!, 3, 87)
    await Bun.sleep(300)
    expect(await states(master!, '?state=firing')).toEqual(['cpu-high/a:firing', 'cpu-high/b:firing'])
    expect(receiver.taken('/hook')).toHaveLength(1)

    await post(master!, 2, 80)
    await waitFor(() => receiver.taken('/hook').length === 2 && receiver.taken('/slack').length === 2, 5_000)
    const resolved = receiver.taken('/hook')[1]
    expect(resolved.status).toBe('resolved')
    expect(resolved.alerts.map((alert: any) => [alert.labels.node, alert.status, alert.endsAt]).sort()).toEqual([
      ['a', 'resolved', at(2)],
      ['b', 'resolved', at(2)],
    ])
    expect(receiver.taken('/slack')[1].text).toContain('[RESOLVED:2] cpu-high')
    expect(await states(master!)).toEqual([])
    expect(await states(master!, '?state=resolved')).toEqual(['cpu-high/a:resolved', 'cpu-high/b:resolved'])
    const history = await api(master!, '/api/v2/alerts/history?hours=1&rule=cpu-high')
    expect(history.transitions.filter((change: any) => change.node === 'a').map((change: any) => `${change.from}>${change.to}`)).toEqual([
      'inactive>pending', 'pending>firing', 'firing>resolved',
    ])
  })

  test('stale nodes and an offline agent fire on silence, and resolve when the agent reports again', async () => {
    const before = receiver.taken('/hook').length
    master!.faults.alertsClock(10 * MINUTE)
    await waitFor(() => receiver.taken('/hook').length >= before + 2, 5_000)
    const messages = receiver.taken('/hook').slice(before)
    const stale = messages.find((message) => message.groupLabels.alertname === 'node-stale')
    const offline = messages.find((message) => message.groupLabels.alertname === 'agent-offline')
    expect(stale.alerts.map((alert: any) => alert.labels.node).sort()).toEqual(['a', 'b'])
    expect(offline.alerts).toHaveLength(1)
    expect(offline.alerts[0].labels).toEqual({ alertname: 'agent-offline', cluster: 'c1', severity: 'critical' })
    expect(await states(master!, '?state=firing')).toEqual(['agent-offline/:firing', 'node-stale/a:firing', 'node-stale/b:firing'])

    await post(master!, 1, 20)
    master!.faults.alertsClock(0)
    await waitFor(async () => (await states(master!)).length === 0, 5_000)
    await waitFor(() => receiver.taken('/hook').length >= before + 4, 5_000)
    expect(receiver.taken('/hook').slice(before + 2).map((message) => `${message.groupLabels.alertname}:${message.status}`).sort()).toEqual([
      'agent-offline:resolved', 'node-stale:resolved',
    ])
  })

  test('a restart while firing neither forgets the alert nor sends it again', async () => {
    await post(master!, 0.9, 99)
    await post(master!, 0.5, 99, ['a']) // only a keeps breaching; b stays pending
    // `for` counts from the first breaching sample: 0.4 minutes in, both still pending.
    expect(await states(master!, '?state=firing')).toEqual([])
    const sent = receiver.taken('/hook').length
    master = await restart(master!)
    expect(await states(master)).toEqual(['cpu-high/a:pending', 'cpu-high/b:pending'])

    // The pending state survived the restart: 5 minutes after its first breach, a fires.
    await post(master, -4.2, 99, ['a'])
    await waitFor(() => receiver.taken('/hook').length === sent + 1, 5_000)
    expect(await states(master, '?state=firing')).toEqual(['cpu-high/a:firing'])

    master = await restart(master)
    expect(await states(master, '?state=firing')).toEqual(['cpu-high/a:firing'])
    await post(master, -4.4, 99, ['a'])
    await Bun.sleep(500)
    expect(receiver.taken('/hook')).toHaveLength(sent + 1) // still firing: nothing sent again

    await post(master, -4.6, 10, ['a'])
    await waitFor(() => receiver.taken('/hook').length === sent + 2, 5_000)
    expect(receiver.taken('/hook').at(-1).status).toBe('resolved')
  })

  test('a master that was down is not its nodes falling silent: its start raises no stale or offline alert', async () => {
    const sent = receiver.taken('/hook').length
    const { problems } = await master!.stop()
    expect(problems).toEqual([])
    // As if the master had been down for ten minutes: every node and agent last heard before that.
    const alerts = new Database(join(dbPath, '..', 'alerts.db'))
    alerts.run('UPDATE alert_seen_nodes SET received_ms = ?', [Date.now() - 10 * MINUTE])
    alerts.run('UPDATE alert_seen_clusters SET heard_ms = ?', [Date.now() - 10 * MINUTE])
    alerts.close()
    master = await startTestMaster(env, dbPath)
    await Bun.sleep(1_500) // a silence judgement runs every second
    expect((await states(master)).filter((state) => !state.startsWith('cpu-high'))).toEqual([])
    expect(receiver.taken('/hook')).toHaveLength(sent)
  })

  test('stale and offline alerts firing at a restart stay firing while the silence lasts: no resolve, no second fire', async () => {
    const before = receiver.taken('/hook').length
    master!.faults.alertsClock(10 * MINUTE)
    await waitFor(async () => (await states(master!, '?state=firing')).filter((state) => !state.startsWith('cpu-high')).length === 3, 5_000)
    await waitFor(() => receiver.taken('/hook').length === before + 2, 5_000)
    await master!.stop()
    const alerts = new Database(join(dbPath, '..', 'alerts.db'))
    alerts.run('UPDATE alert_seen_nodes SET received_ms = ?', [Date.now() - 10 * MINUTE])
    alerts.run('UPDATE alert_seen_clusters SET heard_ms = ?', [Date.now() - 10 * MINUTE])
    alerts.close()
    master = await startTestMaster(env, dbPath)
    await Bun.sleep(1_500)
    expect((await states(master, '?state=firing')).filter((state) => !state.startsWith('cpu-high'))).toEqual([
      'agent-offline/:firing', 'node-stale/a:firing', 'node-stale/b:firing',
    ])
    expect(receiver.taken('/hook')).toHaveLength(before + 2)
  })

  async function restart(running: RunningMaster): Promise<RunningMaster> {
    const { problems } = await running.stop()
    expect(problems).toEqual([])
    return startTestMaster(env, dbPath)
  }
})

describe('a receiver that is down or hangs', () => {
  let receiver: Receiver
  let master: RunningMaster | undefined

  beforeAll(async () => {
    receiver = startReceiver()
    const path = join(mkdtempSync(join(tmpdir(), 'nmm-rules-')), 'alerts.json')
    writeFileSync(path, JSON.stringify({
      rules: [{ name: 'cpu-any', figure: 'cpu_usage', op: '>=', threshold: 50, severity: 'critical' }],
      notify: [{ type: 'webhook', url: `${receiver.url}/hook` }],
    }))
    master = await startTestMaster({ ALERT_RULES: path })
  })
  afterAll(async () => {
    master = await disposeMaster(master)
    receiver.stop()
  })

  const metric = async (pattern: RegExp) => {
    const match = pattern.exec(await (await fetch(`${master!.api}/metrics`)).text())
    return match ? Number(match[1]) : undefined
  }

  test('while the receiver hangs, agents are answered and alerts change state; the message waits in the outbox', async () => {
    receiver.mode = 'hang'
    await post(master!, 3, 95, ['h1'])
    await post(master!, 2, 10, ['h1'])
    await post(master!, 1, 95, ['h1'])
    await waitFor(async () => (await states(master!, '?state=firing')).length === 1, 5_000)
    await waitFor(() => receiver.attempts('/hook') >= 1, 5_000)
    expect(receiver.taken('/hook')).toHaveLength(0)
    const history = await api(master!, '/api/v2/alerts/history?hours=1')
    expect(history.transitions.map((change: any) => change.to)).toEqual(['pending', 'firing', 'resolved', 'pending', 'firing'])
    await waitFor(async () => ((await metric(/^nmm_alert_notifications_pending (\d+)/m)) ?? 0) >= 1, 5_000)
  })

  test('a receiver that refuses gets the messages again with back-off, in order, until it takes them', async () => {
    receiver.mode = 'refuse'
    const before = receiver.attempts('/hook')
    // The hung request ends (5 s timeout) and counts as a failure; refusals follow with back-off.
    await waitFor(() => receiver.attempts('/hook') >= before + 1, 10_000)
    receiver.mode = 'take'
    await waitFor(() => receiver.taken('/hook').length === 3, 15_000)
    expect(receiver.taken('/hook').map((message) => message.status)).toEqual(['firing', 'resolved', 'firing'])
    await waitFor(async () => (await metric(/^nmm_alert_notifications_pending (\d+)/m)) === 0, 5_000)
    expect(await metric(/^nmm_alert_notifications_total\{type="webhook",outcome="failed"\} (\d+)/m)).toBeGreaterThanOrEqual(2)
    expect(await metric(/^nmm_alert_notifications_total\{type="webhook",outcome="sent"\} (\d+)/m)).toBe(3)
    expect(await metric(/^nmm_alerts_firing\{rule="cpu-any",severity="critical"\} (\d+)/m)).toBe(1)
  })

  test('a receiver that answers 4xx refuses the message for good: it is dropped, not retried, and later messages go through', async () => {
    receiver.mode = 'reject'
    const attempts = receiver.attempts('/hook')
    await post(master!, 0.5, 10, ['h1']) // resolves: the resolve message is rejected
    await waitFor(() => receiver.attempts('/hook') === attempts + 1, 5_000)
    receiver.mode = 'take'
    await post(master!, 0.2, 96, ['h1']) // fires again: this one is taken, not held behind the rejected one
    await waitFor(() => receiver.taken('/hook').length === 4, 5_000)
    expect(receiver.taken('/hook').at(-1).status).toBe('firing')
    expect(receiver.attempts('/hook')).toBe(attempts + 2)
  })
})

describe('kill -9 of the master while a node is stale', () => {
  test('the restarted master keeps the stale alert firing: no false resolve, no second fire', async () => {
    const receiver = startReceiver()
    const dir = mkdtempSync(join(tmpdir(), 'nmm-alerts-kill-'))
    const rules = join(dir, 'alerts.yaml')
    writeFileSync(rules, `rules:\n  - {name: node-stale, figure: stale}\nnotify:\n  - {type: webhook, url: "${receiver.url}/hook"}\n`)
    // A real process, killed for real: silence is judged on its own clock, so STALE_AFTER is short.
    const env = { DB_PATH: join(dir, 'metrics.db'), ALERT_RULES: rules, STALE_AFTER: '3s' }
    let running = await spawnMaster(env)
    try {
      const body = clusterSnapshot('c1', [nodeSnapshot('quiet', new Date().toISOString())])
      expect((await postSnapshot(running.ingest, body, { clusterId: 'c1' })).status).toBe(200)
      await waitFor(() => receiver.taken('/hook').length === 1, 10_000)
      expect(receiver.taken('/hook')[0].status).toBe('firing')
      // Delivery confirmed on the master's side too (a kill before it would rightly deliver the message again).
      await waitFor(async () => /^nmm_alert_notifications_total\{type="webhook",outcome="sent"\} 1$/m.test(await (await fetch(`${running.api}/metrics`)).text()), 5_000)
      // Killed within 30 s of the node's only sample: before the periodic store of when nodes were last heard.
      running.proc.kill('SIGKILL')
      await running.proc.exited
      running = await spawnMaster(env)
      await Bun.sleep(2_500) // silence is judged every second
      const firing = (await (await fetch(`${running.api}/api/v2/alerts?state=firing`)).json()) as { alerts: { rule: string; node: string }[] }
      expect(firing.alerts.map((alert) => `${alert.rule}/${alert.node}`)).toEqual(['node-stale/quiet'])
      expect(receiver.taken('/hook').map((message) => message.status)).toEqual(['firing'])
    } finally {
      running.proc.kill('SIGKILL')
      await running.proc.exited
      receiver.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
