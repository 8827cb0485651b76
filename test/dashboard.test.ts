import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { FIGURES } from '../src/model/figures'
import { clusterBody, fleet } from '../src/simulator/fleet'
import { atlhyperFixture, postLikeAtlHyper } from './support/atlhyper'
import { getJson, useMaster } from './support/master'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

// Callbacks given to page.$eval and waitForFunction run in the browser, where these exist.
declare const document: any
declare function getComputedStyle(element: unknown): { backgroundColor: string }

// Debian's Chromium, driven by playwright-core (no browser download). .ci/run installs it.
const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dir, 'artifacts')
const TOKEN = 'dashboard-token'
const available = existsSync(CHROMIUM)
if (!available && process.env.CI === 'true') {
  // In CI a missing engine is a failure, not a skip: .ci/run installs it.
  test('Chromium is installed for the dashboard test', () => {
    throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`)
  })
} else if (!available) console.warn(`SKIPPED dashboard end-to-end test: ${CHROMIUM} is missing (apt-get install -y chromium)`)

describe.skipIf(!available)('the built-in dashboard in a real browser', () => {
  const master = useMaster({ API_TOKENS: TOKEN, SAMPLE_INTERVAL: '5m' })
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
