import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIGURES } from '../src/model/figures'
import { clusterBody, fleet } from '../src/simulator/fleet'
import { atlhyperFixture, postLikeAtlHyper } from './support/atlhyper'
import { getJson, useMaster } from './support/master'
import { startReceiver, type Receiver } from './support/receiver'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

// Callbacks given to page.$eval and waitForFunction run in the browser, where these exist.
declare const document: any
declare function getComputedStyle(element: unknown): { backgroundColor: string; color: string }

// Debian's Chromium, driven by playwright-core (no browser download). .ci/run installs it.
const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dir, 'artifacts')
const TOKEN = 'dashboard-token'
const available = existsSync(CHROMIUM)

/**
 * Rules that give the page something to show from the first sample: cpu-any fires at once on
 * node-0001 of cluster-01 only (cluster-02 has none firing), memory-watch stays pending on
 * node-0001 of every cluster (it would need 24 h). The webhook's query is a secret the page must not show.
 */
function rulesFile(receiverUrl: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'nmm-dashboard-rules-')), 'alerts.yaml')
  writeFileSync(
    path,
    `rules:
  - name: cpu-any
    figure: cpu_usage
    op: ">="
    threshold: 0
    severity: critical
    clusters: [cluster-01]
    nodes: "*-node-0001"
    description: fires on the first sample
  - name: memory-watch
    figure: mem_usage
    op: ">="
    threshold: 0
    for: 24h
    severity: info
    nodes: "*-node-0001"
notify:
  - type: webhook
    url: ${receiverUrl}/hook?token=s3cret
`,
  )
  return path
}

if (!available && process.env.CI === 'true') {
  // In CI a missing engine is a failure, not a skip: .ci/run installs it.
  test('Chromium is installed for the dashboard test', () => {
    throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`)
  })
} else if (!available) console.warn(`SKIPPED dashboard end-to-end test: ${CHROMIUM} is missing (apt-get install -y chromium)`)

describe.skipIf(!available)('the built-in dashboard in a real browser', () => {
  // STALE_AFTER: the simulator posts for 2 s only, and the cards' averages count online nodes; by
  // the default (15 s at least) the fleet went stale mid-run on a busy machine and the page showed none.
  const env: Record<string, string> = { API_TOKENS: TOKEN, SAMPLE_INTERVAL: '5m', STALE_AFTER: '1h' }
  let receiver: Receiver | undefined
  // Runs before useMaster's own beforeAll (hooks run in the order given): the master reads env then.
  beforeAll(() => {
    receiver = startReceiver()
    env.ALERT_RULES = rulesFile(receiver.url)
  })
  afterAll(() => receiver?.stop())
  const master = useMaster(env)
  let browser: import('playwright-core').Browser
  let page: import('playwright-core').Page
  const outside: string[] = []
  const auth = { authorization: `Bearer ${TOKEN}` }
  const api = async (path: string) => (await fetch(`${master.api}${path}`, { headers: auth })).json() as Promise<any>

  beforeAll(async () => {
    // Two hours of history, then the simulator itself for a few seconds of live posts.
    const clusters = fleet(2, 6)
    const now = Date.now()
    for (let minutes = 120; minutes >= 5; minutes -= 5) {
      for (const { clusterId, nodes } of clusters) {
        const body = clusterBody(clusterId, nodes.map((node) => node.snapshot(now - minutes * 60_000)))
        const response = await fetch(`${master.ingest}/agent/snapshot`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-cluster-id': clusterId }, body,
        })
        expect(response.status).toBe(200)
      }
    }
    const simulator = Bun.spawn(['bun', 'run', 'src/simulator/cli.ts', '--clusters', '2', '--nodes', '6', '--interval', '500ms',
      '--duration', '2s', '--master', master.ingest], { cwd: join(import.meta.dir, '..'), stdout: 'pipe', stderr: 'pipe' })
    expect(await simulator.exited).toBe(0)

    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    // Half the test's time: a wait that fails fails its own test, rather than bun's timeout killing Chromium for all the rest.
    page.setDefaultTimeout(15_000)
    // Everything must come from the master: any other address is recorded and refused.
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url())
      if (url.hostname === '127.0.0.1') return route.continue()
      outside.push(url.href)
      return route.abort()
    })
    mkdirSync(ARTIFACTS, { recursive: true })
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
  })

  test('asks for the API token once, then shows the summary figures of the API', async () => {
    await page.goto(`${master.api}/`)
    await page.waitForSelector('#login[open]')
    await page.fill('#token', TOKEN)
    await page.click('#login button[type=submit]')
    await page.waitForFunction(() => document.querySelector('[data-card="avg_cpu"] .value')?.textContent !== '–')
    const cluster = await page.$eval('#cluster', (select) => (select as any).value)
    const { summary } = await api(`/api/v2/clusters/${cluster}/node-metrics`)
    const card = (key: string) => page.$eval(`[data-card="${key}"] .value`, (node) => node.textContent)
    const sub = (key: string) => page.$eval(`[data-card="${key}"] .sub`, (node) => node.textContent)
    expect(await card('nodes')).toBe(`${summary.online_nodes} / ${summary.metrics_nodes}`)
    expect(await card('avg_cpu')).toBe(`${summary.avg_cpu.toFixed(1)}%`)
    expect(await card('avg_memory')).toBe(`${summary.avg_memory.toFixed(1)}%`)
    expect(await card('max_temp')).toBe(`${summary.max_temp.toFixed(1)} °C`)
    expect(await sub('max_temp')).toBe(summary.max_temp_node)
    expect(await card('max_disk')).toBe(`${summary.max_disk.toFixed(1)}%`)
    expect(await sub('max_disk')).toBe(`${summary.max_disk_node} ${summary.max_disk_mount}`)
    expect(await card('warning_nodes')).toBe(String(summary.warning_nodes))
    expect(await page.$$eval('tr.node-row', (rows) => rows.length)).toBe(summary.metrics_nodes)
    // The token is kept: a reload does not ask again.
    await page.reload()
    await page.waitForFunction(() => document.querySelector('[data-card="avg_cpu"] .value')?.textContent !== '–')
    expect(await page.$('#login[open]')).toBeNull()
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true })
  })

  test('firing alerts head the overview of their cluster: severity, rule, node, summary, how long; none firing, no box', async () => {
    await page.selectOption('#cluster', 'cluster-01')
    await page.waitForSelector('#alerts tr.alert-row')
    const { alerts } = await api('/api/v2/alerts?state=firing&cluster=cluster-01')
    expect(alerts.map((alert: any) => `${alert.rule}/${alert.node}`)).toEqual(['cpu-any/cluster-01-node-0001'])
    // At the top, above the cards, and only what fires (memory-watch is pending on the same node).
    expect(await page.$eval('#view', (view) => [...view.children].map((child: any) => child.id || child.className))).toEqual(['alerts', 'cards', 'panel'])
    expect(await page.$$eval('#alerts th', (cells) => cells.map((cell) => cell.textContent))).toEqual(['Severity', 'Rule', 'Node', 'Summary', 'Firing for'])
    const rows = await page.$$eval('#alerts tbody tr', (trs) => trs.map((tr) => [...tr.children].map((cell: any) => cell.textContent)))
    expect(rows).toHaveLength(1)
    const [severity, rule, node, summary, firingFor] = rows[0]!
    expect([severity, rule, node, summary]).toEqual(['critical', 'cpu-any', 'cluster-01-node-0001', alerts[0].summary])
    // It fired on the first of two hours of samples.
    const minutes = (Date.now() - Date.parse(alerts[0].fired_at)) / 60_000
    expect(minutes).toBeGreaterThan(60)
    expect(firingFor).toMatch(/^\d+ h \d+ min$/)
    expect(await page.textContent('#alerts h2')).toContain('1 firing')
    // The colour repeats the severity written in the badge: critical is the light theme's --bad red.
    expect(await page.$eval('#alerts .badge', (badge) => getComputedStyle(badge).color)).toBe('rgb(214, 69, 69)')
    await page.screenshot({ path: join(ARTIFACTS, 'overview-alerts.png'), fullPage: true })

    // cluster-02 has nothing firing: no box at all, not an empty one.
    await page.selectOption('#cluster', 'cluster-02')
    await page.waitForFunction(() => document.querySelector('tr.node-row')?.dataset.node.startsWith('cluster-02'))
    expect(await page.isVisible('#alerts')).toBe(false)
    expect(await page.$$eval('#alerts *', (nodes) => nodes.length)).toBe(0)
    await page.selectOption('#cluster', 'cluster-01')
    await page.waitForSelector('#alerts tr.alert-row')
  })

  test('the 5 s refresh updates the page in place: no row is rebuilt', async () => {
    await page.evaluate(() => (document.querySelector('tr.node-row').kept = true))
    const before = await page.textContent('#updated')
    await page.waitForFunction((text) => document.querySelector('#updated').textContent !== text, before, { timeout: 10_000 })
    expect(await page.evaluate(() => document.querySelector('tr.node-row').kept)).toBe(true)
  })

  test('the node table sorts by memory and draws 24 h sparklines', async () => {
    await page.click('th[data-key="mem"]')
    const memory = await page.$$eval('tr.node-row td:nth-child(4)', (cells) => cells.map((cell) => parseFloat(cell.textContent ?? '')))
    expect(memory).toEqual([...memory].sort((a, b) => b - a))
    expect(await page.$$eval('tr.node-row canvas', (canvases) => canvases.length)).toBeGreaterThan(0)
  })

  test('a node page draws its trend charts and switches range', async () => {
    const node = await page.$eval('tr.node-row', (row) => (row as any).dataset.node)
    await page.click(`tr.node-row[data-node="${node}"]`)
    await page.waitForSelector('[data-chart="cpu_usage"] canvas')
    await page.waitForFunction(() => document.querySelector('#details h2') !== null)
    const drawn = () => page.$$eval('[data-chart] canvas', (canvases) => canvases.map((canvas) => {
      const { width, height } = canvas as any
      const pixels = (canvas as any).getContext('2d').getImageData(0, 0, width, height).data
      let painted = 0
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++
      return painted
    }))
    // One chart per chart title of the figure registry: the dashboard draws what the master keeps.
    const charts = new Set(FIGURES.map((figure) => figure.chart.title)).size
    await page.waitForFunction((count) => document.querySelectorAll('[data-chart] canvas').length === count, charts)
    expect(await page.$$eval('.chart-title span:first-child', (titles) => titles.map((title) => title.textContent)))
      .toEqual([...new Set(FIGURES.map((figure) => figure.chart.title))])
    expect((await drawn()).every((painted) => painted > 100)).toBe(true)
    expect(await page.textContent('h1')).toBe(node)
    expect(await page.textContent('#details')).toContain('Top processes')
    // Status and figures come from the node's own route (headers), not from the cluster's whole list.
    const cluster = await page.$eval('#cluster', (select) => (select as any).value)
    const nodeUrl = `/api/v2/clusters/${cluster}/node-metrics/${node}`
    const own = await fetch(`${master.api}${nodeUrl}`, { headers: auth })
    const figures = JSON.parse(own.headers.get('x-node-figures')!)
    expect(await page.$eval('#details dl dd', (dd) => dd.textContent)).toBe(own.headers.get('x-node-status'))
    expect(await page.textContent('#details')).toContain(`CPU ${figures.cpu_usage.toFixed(1)}%`)
    const requested: string[] = []
    page.on('request', (request) => requested.push(new URL(request.url()).pathname))
    await page.waitForRequest((request) => new URL(request.url()).pathname === nodeUrl, { timeout: 10_000 }) // the 5 s refresh
    expect(requested).not.toContain(`/api/v2/clusters/${cluster}/node-metrics`)
    await page.screenshot({ path: join(ARTIFACTS, 'node-24h.png'), fullPage: true })

    const history = page.waitForResponse((response) => response.url().includes('/history?start='))
    await page.click('button[data-range="7d"]')
    await history
    expect(await page.$eval('button[data-range="7d"]', (button) => button.classList.contains('active'))).toBe(true)
    expect((await drawn()).every((painted) => painted > 100)).toBe(true)
    await page.screenshot({ path: join(ARTIFACTS, 'node-7d.png'), fullPage: true })
  }, 20_000)

  test("a node page heads with that node's firing and pending alerts, the pending ones set apart; a quiet node has no box", async () => {
    await page.goto(`${master.api}/#/`)
    await page.waitForSelector('#alerts a')
    await page.click('#alerts a[href^="#/node/"]') // the banner's node links to its page
    await page.waitForSelector('#node-alerts tr.alert-row')
    expect(await page.textContent('h1')).toBe('cluster-01-node-0001')
    const { alerts } = await api('/api/v2/alerts?cluster=cluster-01&node=cluster-01-node-0001')
    expect(alerts.map((alert: any) => `${alert.rule}:${alert.state}`)).toEqual(['cpu-any:firing', 'memory-watch:pending'])
    // At the top: right under the node's name, above the range buttons and charts.
    expect(await page.$eval('#view', (view) => [...view.children].slice(1, 4).map((child: any) => child.id || child.tagName.toLowerCase())))      .toEqual(['h1', 'node-alerts', 'div'])
    expect(await page.$$eval('#node-alerts th', (cells) => cells.map((cell) => cell.textContent))).toEqual(['State', 'Severity', 'Rule', 'Summary', 'For'])
    const rows = await page.$$eval('#node-alerts tbody tr', (trs) => trs.map((tr: any) => ({
      cls: tr.className, cells: [...tr.children].slice(0, 3).map((cell: any) => cell.textContent),
      style: document.defaultView.getComputedStyle(tr.children[2]).fontStyle,
    })))
    expect(rows.map((row) => row.cells)).toEqual([['firing', 'critical', 'cpu-any'], ['pending', 'info', 'memory-watch']])
    expect(rows[0]!.cls).toContain('firing')
    expect(rows[1]!.cls).toContain('pending')
    expect(rows[1]!.style).not.toBe(rows[0]!.style) // pending looks different, not only by its word
    expect(await page.textContent('#node-alerts h2')).toContain('1 firing, 1 pending')
    await page.screenshot({ path: join(ARTIFACTS, 'node-alerts.png'), fullPage: true })

    await page.goto(`${master.api}/#/node/cluster-01/cluster-01-node-0002`)
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'cluster-01-node-0002' && document.querySelector('#details h2') !== null)
    expect(await page.isVisible('#node-alerts')).toBe(false)
    expect(await page.$$eval('#node-alerts *', (nodes) => nodes.length)).toBe(0)
  })

  test('#/alerts, from the header: the rules in force and their source, the targets masked, every active alert, the last 24 h newest first', async () => {
    await page.click('header a[data-nav="alerts"]')
    await page.waitForSelector('#rule-table tbody tr')
    expect(await page.$eval('header a[data-nav="alerts"]', (link) => link.getAttribute('aria-current'))).toBe('page')
    const inForce = await api('/api/v2/alert-rules')
    expect(inForce.source).toBe('file')
    expect(await page.$eval('[data-source]', (p) => p.textContent)).toStartWith('Source: file (the ALERT_RULES file)')
    expect(await page.$$eval('#rule-table th', (cells) => cells.map((cell) => cell.textContent)))
      .toEqual(['Name', 'Figure', 'Condition', 'For', 'Resolve', 'Severity', 'Clusters', 'Nodes', 'Description'])
    expect(await page.$$eval('#rule-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((cell: any) => cell.textContent)))).toEqual([
      ['cpu-any', 'cpu_usage', '>= 0 %', 'at once', '–', 'critical', 'cluster-01', '*-node-0001', 'fires on the first sample'],
      ['memory-watch', 'mem_usage', '>= 0 %', '24h', '–', 'info', 'all', '*-node-0001', '–'],
    ])
    expect(inForce.rules.map((rule: any) => rule.name)).toEqual(['cpu-any', 'memory-watch'])

    const target = await page.$$eval('#notify-table tbody td', (cells) => cells.map((cell) => cell.textContent))
    expect(target).toEqual(['webhook', inForce.notify[0].url, '–'])
    expect(target[1]).toEndWith('/***?***')
    expect(await page.textContent('#view')).not.toContain('s3cret')

    // Every active alert, across clusters: firing first, as the API lists them.
    const { alerts } = await api('/api/v2/alerts')
    const active = await page.$$eval('#active-alerts tbody tr', (trs) => trs.map((tr) => [...tr.children].slice(0, 5).map((cell: any) => cell.textContent)))
    expect(active).toEqual(alerts.map((alert: any) => [alert.state, alert.severity, alert.rule, alert.cluster, alert.node]))
    expect(active.map((row) => row[3])).toEqual(['cluster-01', 'cluster-01', 'cluster-02'])

    const { transitions } = await api('/api/v2/alerts/history?hours=24')
    expect(transitions.length).toBeGreaterThanOrEqual(3)
    const shown = await page.$$eval('#transition-table tbody tr', (trs) => trs.map((tr: any) => ({
      at: tr.querySelector('time').getAttribute('datetime'), cells: [...tr.children].slice(1, 6).map((cell: any) => cell.textContent),
    })))
    const newestFirst = [...transitions].reverse()
    expect(shown.map((row) => row.at)).toEqual(newestFirst.map((change: any) => change.at))
    expect(shown.map((row) => row.cells)).toEqual(newestFirst.map((change: any) => [change.rule, change.severity, change.cluster, change.node, `${change.from} → ${change.to}`]))
    expect(shown.map((row) => row.at)).toEqual(shown.map((row) => row.at).sort().reverse())
    expect(shown.some((row) => row.cells[0] === 'cpu-any' && row.cells[4].endsWith('→ firing'))).toBe(true)
    await page.screenshot({ path: join(ARTIFACTS, 'alerts.png'), fullPage: true })
  })

  test('dark theme follows the system, and a phone-sized screen needs no sideways scrolling', async () => {
    await page.goto(`${master.api}/#/`)
    await page.waitForFunction(() => document.querySelector('[data-card="avg_cpu"] .value')?.textContent !== '–')
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    await page.emulateMedia({ colorScheme: 'light' })
    const light = await background()
    await page.emulateMedia({ colorScheme: 'dark' })
    const dark = await background()
    expect(dark).not.toBe(light)
    const brightness = (color: string) => color.match(/\d+/g)!.slice(0, 3).map(Number).reduce((a, b) => a + b, 0)
    expect(brightness(dark)).toBeLessThan(brightness(light))
    await page.screenshot({ path: join(ARTIFACTS, 'overview-dark.png'), fullPage: true })
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png'), fullPage: true })
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.emulateMedia({ colorScheme: 'light' })
  })

  test('Swagger UI renders with no network, and nothing was fetched from elsewhere', async () => {
    await page.goto(`${master.api}/swagger`)
    await page.waitForSelector('.swagger-ui .info .title')
    expect(await page.textContent('.swagger-ui .info .title')).toContain('Node metrics master')
    await page.screenshot({ path: join(ARTIFACTS, 'swagger.png') })
    expect(outside).toEqual([])
    const { status } = await getJson(`${master.api}/assets/nothing.js`)
    expect(status).toBe(404)
  })

  test("a real AtlHyper VM and NVMe node: what was not measured shows as none, not 0 °C; unset sensor limits too", async () => {
    const cluster = (await api('/api/v2/clusters')).clusters[0].cluster_id
    for (const fixture of ['v2-vm-no-sensors', 'v2-steady-nvme'] as const) {
      const body = atlhyperFixture(fixture).replace(/"cluster_id":"[^"]+"/, `"cluster_id":"${cluster}"`)
      expect((await postLikeAtlHyper(master.ingest, body, cluster)).status).toBe(200)
    }
    await page.goto(`${master.api}/#/`)
    await page.waitForSelector('tr.node-row[data-node="vm-1"]')
    const cells = await page.$$eval('tr.node-row[data-node="vm-1"] td', (tds) => tds.map((td) => td.textContent))
    expect(cells[2]).toBe('47.5%') // CPU
    expect(cells[5]).toBe('–') // no sensor: no temperature, not 0.0 °C
    await page.click('tr.node-row[data-node="worker-1"]')
    await page.waitForFunction(() => /Temperatures/.test(document.querySelector('#details')?.textContent ?? ''))
    const sensors = await page.$$eval('#details section:nth-of-type(6) tbody tr', (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)))
    expect(sensors[1]).toEqual(['nvme', 'Sensor 1', '38.9 °C', '–', '–']) // max 65261.85 and critical 0 are "unset"
    expect(sensors[0]).toEqual(['nvme', 'Composite', '38.9 °C', '81.8 °C', '84.8 °C'])
  })
})
