import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// A maintained parser of the text format, as test/prometheus.test.ts reads /metrics.
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { engineOrSkip, startAlertmanager, type Engine } from './support/engines'
import { disposeMaster, postSnapshot, startTestMaster, type RunningMaster } from './support/master'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'
import { waitFor } from './support/wait'

// A real master, its Workers and a real Alertmanager: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const ready = engineOrSkip('alertmanager')

const MINUTE = 60_000
const T = Date.now()
const at = (minutesAgo: number) => new Date(T - minutesAgo * MINUTE).toISOString()

type AmAlert = {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL: string
  status: { state: string }
}
type Family = { name: string; metrics: { value?: string; labels?: Record<string, string> }[] }

function rulesFile(dir: string, alertmanager: Engine): string {
  const path = join(dir, 'alerts.yaml')
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
  - name: memory-full
    figure: mem_usage
    op: ">="
    threshold: 95
    severity: critical
  - name: agent-offline
    figure: agent_offline
    severity: critical
notify:
  - type: alertmanager
    url: ${alertmanager.url}
`,
  )
  return path
}

describe.if(ready)('alerts into a real Prometheus Alertmanager, through its API', () => {
  let alertmanager: Engine
  let master: RunningMaster | undefined
  let rulesDir: string

  beforeAll(async () => {
    alertmanager = (await startAlertmanager())!
    rulesDir = mkdtempSync(join(tmpdir(), 'nmm-rules-'))
    // AGENT_EXPIRE well past this file's run time: only the shifted clock makes an agent offline.
    master = await startTestMaster({ ALERT_RULES: rulesFile(rulesDir, alertmanager), AGENT_EXPIRE: '5m' })
  })
  afterAll(async () => {
    master = await disposeMaster(master)
    await alertmanager?.stop()
    rmSync(rulesDir, { recursive: true, force: true })
  })

  /** One snapshot of `cluster` with `nodes` at `cpu`, taken `minutesAgo`. */
  async function post(minutesAgo: number, cpu: number, nodes = ['a', 'b'], cluster = 'c1', mem = 50): Promise<void> {
    const body = clusterSnapshot(cluster, nodes.map((name) => nodeSnapshot(name, at(minutesAgo), { cpu, mem })))
    expect((await postSnapshot(master!.ingest, body, { clusterId: cluster })).status).toBe(200)
  }

  /** What Alertmanager itself lists (GET /api/v2/alerts: its active, silenced, inhibited and unprocessed alerts). */
  async function listed(rule: string, query = ''): Promise<AmAlert[]> {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts${query}`)
    expect(response.status).toBe(200)
    return ((await response.json()) as AmAlert[]).filter((alert) => alert.labels.alertname === rule)
  }

  async function metrics(url: string, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
    const response = await fetch(`${url}/metrics`, { headers })
    expect(response.status).toBe(200)
    const families = parsePrometheusTextFormat(await response.text()) as Family[]
    return new Map(families.map((family) => [family.name, family]))
  }

  /** The master's notifications to Alertmanager so far, by outcome. */
  async function notifications(): Promise<{ sent: number; failed: number }> {
    const family = (await metrics(master!.api)).get('nmm_alert_notifications_total')
    const count = (outcome: string) =>
      Number(family?.metrics.find((metric) => metric.labels?.type === 'alertmanager' && metric.labels.outcome === outcome)?.value ?? 0)
    return { sent: count('sent'), failed: count('failed') }
  }

  /** Notifications stored and not delivered yet. */
  async function pending(): Promise<string | undefined> {
    return (await metrics(master!.api)).get('nmm_alert_notifications_pending')?.metrics[0]?.value
  }

  /** Alerts Alertmanager took through its v2 API, by status (its own counter). */
  async function received(status: 'firing' | 'resolved'): Promise<number> {
    const family = (await metrics(alertmanager.url)).get('alertmanager_alerts_received_total')
    return family?.metrics.filter((metric) => metric.labels?.status === status).reduce((sum, metric) => sum + Number(metric.value), 0) ?? 0
  }

  test('a rule firing for two nodes of a cluster: Alertmanager lists both, with the labels, summary and start the master gave', async () => {
    await post(9, 95) // the first breaching sample
    await post(4, 97) // 5 minutes in: fires
    await waitFor(async () => (await listed('cpu-high')).filter((alert) => alert.status.state === 'active').length === 2, 10_000)

    const alerts = (await listed('cpu-high')).sort((x, y) => x.labels.node!.localeCompare(y.labels.node!))
    expect(alerts.map((alert) => alert.labels)).toEqual([
      { alertname: 'cpu-high', cluster: 'c1', node: 'a', severity: 'warning' },
      { alertname: 'cpu-high', cluster: 'c1', node: 'b', severity: 'warning' },
    ])
    for (const alert of alerts) {
      expect(alert.status.state).toBe('active')
      expect(alert.startsAt).toBe(at(9))
      expect(alert.annotations.summary).toContain(`cpu_usage on ${alert.labels.node}`)
      expect(alert.annotations.description).toBe('CPU is saturated')
      expect(alert.generatorURL).toEndWith(`/#/node/c1/${alert.labels.node}`)
      // Sent with an end a few minutes ahead (refreshed every minute), so a master that goes away does not leave it firing for ever.
      expect(Date.parse(alert.endsAt)).toBeGreaterThan(Date.now() + 2 * MINUTE)
    }
  })

  test('resolved (a sample below `resolve`): Alertmanager takes the resolve and lists them no more', async () => {
    const resolvedBefore = await received('resolved')
    await post(2, 80)
    await waitFor(async () => (await listed('cpu-high')).length === 0, 10_000)
    // Alertmanager 0.25 leaves a resolved alert out of GET /api/v2/alerts altogether, whatever the
    // active/silenced/inhibited filters say: its counter shows the resolve arrived, not that it was lost.
    expect(await listed('cpu-high', '?active=false&silenced=true&inhibited=true&unprocessed=true')).toEqual([])
    expect(await received('resolved')).toBe(resolvedBefore + 2)
  })

  test('an offline agent reaches Alertmanager as an alert of the cluster, with no node label', async () => {
    master!.faults.alertsClock(10 * MINUTE)
    await waitFor(async () => (await listed('agent-offline')).length === 1, 10_000)
    const [offline] = await listed('agent-offline')
    expect(offline!.labels).toEqual({ alertname: 'agent-offline', cluster: 'c1', severity: 'critical' })
    expect(offline!.status.state).toBe('active')
    expect(offline!.annotations.summary).toContain('c1')

    // Back on the real clock the agent was heard lately: resolved, and gone from Alertmanager's list.
    master!.faults.alertsClock(0)
    await waitFor(async () => (await listed('agent-offline')).length === 0, 10_000)
  })

  test('an agent whose clock runs ahead (within MAX_CLOCK_SKEW): Alertmanager takes the alert, which ends after it starts', async () => {
    // Fires at once on a sample stamped 4½ minutes ahead: its start is later than now + the 4 minutes
    // a firing alert is sent to last, which Alertmanager would refuse (400) were the end not pushed past it.
    await post(-4.5, 10, ['y'], 'c3', 97)
    await waitFor(async () => (await listed('memory-full')).length === 1, 10_000)
    const [alert] = await listed('memory-full')
    expect(alert!.labels).toEqual({ alertname: 'memory-full', cluster: 'c3', node: 'y', severity: 'critical' })
    expect(alert!.startsAt).toBe(at(-4.5))
    expect(Date.parse(alert!.endsAt)).toBeGreaterThan(Date.parse(alert!.startsAt))
  })

  test('Alertmanager down when an alert fires: the master retries with back-off until it is back, and counts both outcomes', async () => {
    // The counts as they stand once the earlier tests' deliveries are in them (/metrics hears at most once a second).
    await waitFor(async () => (await pending()) === '0', 5_000)
    await Bun.sleep(1_100)
    const before = await notifications()
    await alertmanager.halt()
    await post(9, 96, ['x'], 'c2')
    await post(4, 98, ['x'], 'c2') // fires while Alertmanager is down
    await waitFor(async () => (await notifications()).failed > before.failed, 10_000)

    await alertmanager.resume() // a fresh process on the same port: it knows of no alert yet
    // The retries come 1 s, then 2 s, 4 s… apart: the next one finds it up.
    await waitFor(async () => (await listed('cpu-high')).length === 1, 15_000)
    const [alert] = await listed('cpu-high')
    expect(alert!.labels).toEqual({ alertname: 'cpu-high', cluster: 'c2', node: 'x', severity: 'warning' })
    expect(alert!.startsAt).toBe(at(9))

    await waitFor(async () => (await notifications()).sent > before.sent, 5_000) // /metrics hears within a second
    const after = await notifications()
    expect(after.failed).toBeGreaterThan(before.failed)
    expect(after.sent).toBeGreaterThan(before.sent)
    // Nothing left waiting in the outbox.
    await waitFor(async () => (await pending()) === '0', 5_000)
  })
})
