// The built-in dashboard: plain modules, no build step. Data comes from the same API as any
// other client; charts are uPlot, served by the master itself; the figures charted are the
// master's figure registry (/assets/figures.js).
import { FIGURES } from './figures.js'

const $ = (selector, root = document) => root.querySelector(selector)
const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
    else node.setAttribute(key, value)
  }
  node.append(...children)
  return node
}

const REFRESH_MS = 5_000
const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 }
const TOKEN_KEY = 'nmm-api-token'
const state = { cluster: localStorage.getItem('nmm-cluster'), timer: undefined, generation: 0, charts: [], sort: { key: 'cpu', asc: false }, range: '24h' }

// ---- formatting ----
const fixed = (value, digits = 1) => (value === undefined || value === null || Number.isNaN(value) ? '–' : Number(value).toFixed(digits))
const pct = (value) => (value === undefined || value === null ? '–' : `${fixed(value)}%`)
const celsius = (value) => (value === undefined || value === null ? '–' : `${fixed(value)} °C`)
// Sensor limits the kernel leaves unset read 0 or 65261.85 °C: outside the temperature figure's range, none.
const TEMPERATURE_MAX = FIGURES.find((figure) => figure.unit === '°C')?.bounds.max ?? 200
const limit = (value) => (typeof value === 'number' && value > 0 && value <= TEMPERATURE_MAX ? celsius(value) : '–')
function bytes(value, suffix = '') {
  if (value === undefined || value === null) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let index = 0
  while (Math.abs(value) >= 1024 && index < units.length - 1) (value /= 1024), index++
  return `${value.toFixed(index === 0 ? 0 : 1)} ${units[index]}${suffix}`
}
const duration = (seconds) => {
  if (!seconds) return '–'
  const days = Math.floor(seconds / 86_400)
  const hours = Math.floor((seconds % 86_400) / 3_600)
  return days > 0 ? `${days} d ${hours} h` : `${hours} h ${Math.floor((seconds % 3_600) / 60)} min`
}
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

// ---- API, with the token asked for once and kept in the browser ----
async function api(path) {
  return (await apiResponse(path)).body
}

/** The JSON body with the response headers (the node route's status and figures travel in headers). */
async function apiResponse(path) {
  const token = localStorage.getItem(TOKEN_KEY)
  const response = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  if (response.status === 401) {
    await askForToken(token !== null)
    return apiResponse(path)
  }
  const body = await response.json()
  if (!response.ok) throw new Error(body.message ?? response.statusText)
  return { body, headers: response.headers }
}

let tokenPrompt
function askForToken(refused) {
  tokenPrompt ??= new Promise((resolve) => {
    localStorage.removeItem(TOKEN_KEY)
    const dialog = $('#login')
    $('#login-error').hidden = !refused
    $('#login-form').onsubmit = () => {
      localStorage.setItem(TOKEN_KEY, $('#token').value.trim())
      tokenPrompt = undefined
      resolve()
    }
    dialog.showModal()
  })
  return tokenPrompt
}

// ---- routing ----
function stop() {
  state.generation++ // see every()
  clearTimeout(state.timer)
  for (const chart of state.charts) chart.destroy()
  state.charts = []
}

async function route() {
  stop()
  const [, page, cluster, node] = location.hash.split('/').map(decodeURIComponent)
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === (page || 'overview')) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  if (page === 'node' && cluster && node) return nodePage(cluster, node)
  if (page === 'alerts') return alertsPage()
  return overview()
}

function every(refresh) {
  // A refresh still under way when the page is left must not schedule its page again.
  const generation = state.generation
  const tick = async () => {
    try {
      await refresh()
      if (generation !== state.generation) return
      $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`
    } catch (error) {
      if (generation !== state.generation) return
      $('#updated').textContent = `update failed: ${error.message}`
    }
    state.timer = setTimeout(tick, REFRESH_MS)
  }
  return tick()
}

async function loadClusters() {
  const { clusters } = await api('/api/v2/clusters')
  const select = $('#cluster')
  const ids = clusters.map((cluster) => cluster.cluster_id)
  if (!ids.includes(state.cluster)) state.cluster = ids[0] ?? null
  select.replaceChildren(...clusters.map((cluster) =>
    el('option', { value: cluster.cluster_id }, `${cluster.cluster_id} (${cluster.online_nodes}/${cluster.nodes}, agent ${cluster.agent})`)))
  select.value = state.cluster ?? ''
}

// ---- overview ----
const COLUMNS = [
  { key: 'name', label: 'Node' },
  { key: 'status', label: 'Status' },
  { key: 'cpu', label: 'CPU', num: true },
  { key: 'mem', label: 'Memory', num: true },
  { key: 'disk', label: 'Fullest disk', num: true },
  { key: 'temp', label: 'CPU temp', num: true },
  { key: 'spark', label: 'CPU, 24 h', sortable: false, narrow: true },
]

function overview() {
  const view = $('#view')
  const card = (key, label) => el('div', { class: 'card', 'data-card': key }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, '–'), el('div', { class: 'sub' }, ''))
  const head = el('tr', {}, ...COLUMNS.map((column) => {
    const th = el('th', { class: `${column.sortable === false ? '' : 'sortable'} ${column.num ? 'num' : ''} ${column.narrow ? 'hide-narrow' : ''}`, 'data-key': column.key }, column.label)
    if (column.sortable !== false) {
      th.addEventListener('click', () => {
        state.sort = { key: column.key, asc: state.sort.key === column.key ? !state.sort.asc : column.key === 'name' }
        render()
      })
    }
    return th
  }))
  const body = el('tbody')
  const alertsBox = el('section', { class: 'panel alerts', id: 'alerts', hidden: '', 'aria-labelledby': 'alerts-title' })
  view.replaceChildren(
    alertsBox,
    el('section', { class: 'cards' },
      card('nodes', 'Nodes online'), card('avg_cpu', 'Average CPU'), card('avg_memory', 'Average memory'),
      card('max_temp', 'Hottest node'), card('max_disk', 'Fullest disk'), card('warning_nodes', 'Warning nodes')),
    el('section', { class: 'panel' }, el('table', { id: 'nodes' }, el('thead', {}, head), body)),
  )
  const rows = new Map() // node name → { tr, cells, spark }
  let latest = { summary: undefined, nodes: {}, node_status: {}, node_figures: {} }
  let sparks = {}

  function setCard(key, value, sub = '') {
    const node = $(`[data-card="${key}"]`)
    $('.value', node).textContent = value
    $('.sub', node).textContent = sub
  }

  function render() {
    const { summary, nodes, node_status: status, node_figures: figures } = latest
    if (!summary) return
    setCard('nodes', `${summary.online_nodes} / ${summary.metrics_nodes}`, summary.stale_nodes ? `${summary.stale_nodes} stale` : 'all reporting')
    setCard('avg_cpu', pct(summary.avg_cpu), 'online nodes')
    setCard('avg_memory', pct(summary.avg_memory), 'online nodes')
    setCard('max_temp', celsius(summary.max_temp), summary.max_temp_node)
    setCard('max_disk', pct(summary.max_disk), summary.max_disk_node ? `${summary.max_disk_node} ${summary.max_disk_mount}` : '')
    setCard('warning_nodes', String(summary.warning_nodes), 'CPU/memory ≥ 80 % or ≥ 75 °C')
    // The figures the master derived (values out of range and unmeasured zeros left out), not the raw snapshot.
    const list = Object.entries(nodes).map(([name, snapshot]) => ({
      name, snapshot, status: status[name] ?? 'online',
      cpu: figures[name]?.cpu_usage, mem: figures[name]?.mem_usage, disk: figures[name]?.disk_max, temp: figures[name]?.temperature,
    }))
    const { key, asc } = state.sort
    list.sort((a, b) => {
      const x = a[key] ?? -Infinity
      const y = b[key] ?? -Infinity
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1) || a.name.localeCompare(b.name)
    })
    for (const th of head.children) {
      th.classList.toggle('sorted', th.dataset.key === key)
      th.classList.toggle('asc', th.dataset.key === key && asc)
    }
    for (const [name, row] of rows) {
      if (!(name in nodes)) {
        row.spark?.destroy()
        row.tr.remove()
        rows.delete(name)
      }
    }
    // Rows are kept and updated in place, in the new order: a refresh moves nothing that did not change.
    list.forEach((node, index) => {
      let row = rows.get(node.name)
      if (!row) {
        const cells = COLUMNS.map((column) => el('td', { class: `${column.num ? 'num' : ''} ${column.narrow ? 'hide-narrow' : ''}` }))
        const tr = el('tr', { class: 'node-row', 'data-node': node.name, onclick: () => (location.hash = `#/node/${encodeURIComponent(state.cluster)}/${encodeURIComponent(node.name)}`) }, ...cells)
        row = { tr, cells }
        rows.set(node.name, row)
      }
      const [nameCell, statusCell, cpuCell, memCell, diskCell, tempCell, sparkCell] = row.cells
      nameCell.textContent = node.name
      const warning = (node.cpu ?? 0) >= 80 || (node.mem ?? 0) >= 80 || (node.temp ?? 0) >= 75
      statusCell.replaceChildren(el('span', { class: `badge ${node.status === 'stale' ? 'stale' : warning ? 'warn' : 'online'}` }, node.status === 'stale' ? 'stale' : warning ? 'warning' : 'online'))
      meterCell(cpuCell, node.cpu)
      meterCell(memCell, node.mem)
      meterCell(diskCell, node.disk)
      tempCell.textContent = celsius(node.temp)
      tempCell.classList.toggle('hot', (node.temp ?? 0) >= 75)
      drawSpark(row, sparkCell, sparks[node.name])
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] ?? null)
    })
  }

  function meterCell(cell, value) {
    const fill = el('span')
    fill.style.width = `${Math.max(0, Math.min(100, value ?? 0))}%`
    cell.replaceChildren(el('div', { class: 'bar-cell' }, el('div', { class: `meter ${(value ?? 0) >= 80 ? 'high' : ''}` }, fill), el('span', {}, pct(value))))
  }

  function drawSpark(row, cell, points) {
    if (!points || points.length === 0) return
    const data = [points.map((point) => point.timestamp / 1000), points.map((point) => point.value)]
    if (row.spark) return row.spark.setData(data)
    row.spark = new uPlot({
      width: 120, height: 28, class: 'spark', cursor: { show: false }, legend: { show: false }, select: { show: false },
      axes: [{ show: false }, { show: false }], scales: { y: { range: [0, 100] } },
      series: [{}, { stroke: css('--accent'), width: 1.2, fill: css('--band') }],
    }, data, cell)
  }

  return every(async () => {
    await loadClusters()
    if (!state.cluster) {
      view.querySelector('.panel').replaceChildren(el('p', { class: 'muted' }, 'No cluster has reported yet. Start an agent: bun run agent'))
      return
    }
    const cluster = encodeURIComponent(state.cluster)
    const [list, history, firing] = await Promise.all([
      api(`/api/v2/clusters/${cluster}/node-metrics`),
      api(`/api/v2/clusters/${cluster}/history?metric=cpu_usage&hours=24&max_points=48`),
      alertsOf({ state: 'firing', cluster: state.cluster }),
    ])
    latest = list
    sparks = history.nodes
    render()
    showAlerts(alertsBox, firing, 'Alerts', { node: true })
  })
}

// ---- node page ----
// One chart per chart title of the registry, its figures as series, in registry order.
const CHARTS = []
for (const figure of FIGURES) {
  let chart = CHARTS.find((candidate) => candidate.title === figure.chart.title)
  if (!chart) CHARTS.push((chart = { title: figure.chart.title, unit: figure.unit, series: [], range: figure.chart.range }))
  chart.series.push([figure.field, figure.chart.label])
}

function nodePage(cluster, node) {
  const view = $('#view')
  const ranges = el('div', { class: 'ranges', role: 'group', 'aria-label': 'range' }, ...Object.keys(RANGES).map((name) =>
    el('button', { type: 'button', 'data-range': name, class: name === state.range ? 'active' : '', onclick: () => {
      state.range = name
      for (const button of ranges.children) button.classList.toggle('active', button.dataset.range === name)
      loadHistory()
    } }, name)))
  const chartBoxes = CHARTS.map((chart) => el('div', { class: 'panel', 'data-chart': chart.series[0][0] },
    el('div', { class: 'chart-title' }, el('span', {}, `${chart.title}`), el('span', { class: 'muted' }, 'average, with the peak band')), el('div', { class: 'plot' })))
  const details = el('div', { class: 'grid2', id: 'details' })
  const alertsBox = el('section', { class: 'panel alerts', id: 'node-alerts', hidden: '', 'aria-labelledby': 'alerts-title' })
  view.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, `← ${cluster}`)),
    el('h1', {}, node),
    alertsBox,
    ranges,
    el('section', { class: 'grid2' }, ...chartBoxes),
    details,
  )
  $('#cluster').value = cluster

  let shown = { start: 0, end: 0 }
  async function loadHistory() {
    const start = Date.now() - RANGES[state.range]
    shown = { start: start / 1000, end: Date.now() / 1000 }
    const history = await api(`/api/v2/clusters/${encodeURIComponent(cluster)}/node-metrics/${encodeURIComponent(node)}/history?start=${Math.round(start)}&max_points=500`)
    const x = history.history.map((point) => point.timestamp / 1000)
    CHARTS.forEach((chart, index) => {
      const data = [x]
      for (const [field] of chart.series) data.push(history.history.map((point) => point[field]), history.history.map((point) => point[`${field}_max`]))
      const existing = state.charts[index]
      if (existing) return existing.setData(data)
      const box = $('.plot', chartBoxes[index])
      const colors = [css('--accent'), css('--warn')]
      const series = [{}]
      const bands = []
      chart.series.forEach(([, label], at) => {
        series.push({ label: `${label} avg`, stroke: colors[at], width: 1.5, value: (u, v) => format(chart.unit, v) })
        series.push({ label: `${label} peak`, stroke: colors[at], width: 0.5, dash: [4, 4], value: (u, v) => format(chart.unit, v) })
        bands.push({ series: [series.length - 1, series.length - 2], fill: at === 0 ? css('--band') : 'rgba(240, 179, 60, 0.18)' })
      })
      state.charts[index] = new uPlot({
        width: Math.max(280, box.clientWidth), height: 200, series, bands,
        // The x axis spans the whole range asked for, even where there is no data yet.
        scales: { x: { time: true, range: () => [shown.start, shown.end] }, ...(chart.range ? { y: { range: chart.range } } : {}) },
        axes: [{ stroke: css('--muted'), grid: { stroke: css('--line') } },
          { stroke: css('--muted'), grid: { stroke: css('--line') }, values: (u, values) => values.map((v) => format(chart.unit, v)), size: 84 }],
      }, data, box)
    })
  }

  // Headline figures are the master's (figures); the tables show the snapshot as the agent sent it.
  function renderDetails(snapshot, status, figures = {}) {
    const cpu = snapshot.cpu ?? {}
    const memory = snapshot.memory ?? {}
    const table = (headers, rows) => el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell ?? '–'))))))
    const kv = (pairs) => el('dl', { class: 'kv' }, ...pairs.flatMap(([key, value]) => [el('dt', {}, key), el('dd', {}, value ?? '–')]))
    details.replaceChildren(
      el('section', { class: 'panel' }, el('h2', {}, 'Identity'), kv([
        ['status', status], ['hostname', snapshot.hostname], ['OS', snapshot.os], ['kernel', snapshot.kernel], ['uptime', duration(snapshot.uptime)],
        ['CPU', `${cpu.model ?? '–'} · ${cpu.cores ?? '–'} cores / ${cpu.threads ?? '–'} threads · ${fixed(cpu.frequency, 0)} MHz`],
        ['load', `${fixed(cpu.load_1, 2)} · ${fixed(cpu.load_5, 2)} · ${fixed(cpu.load_15, 2)}`],
        ['snapshot', new Date(typeof snapshot.timestamp === 'number' ? snapshot.timestamp : Date.parse(snapshot.timestamp)).toLocaleString()],
      ])),
      el('section', { class: 'panel' }, el('h2', {}, `CPU ${pct(figures.cpu_usage)} (user ${pct(cpu.user_percent)}, system ${pct(cpu.system_percent)}, iowait ${pct(cpu.iowait_percent)})`),
        el('div', { class: 'cores' }, ...(cpu.per_core ?? []).map((value, index) => {
          const core = el('div', { class: 'core', title: `core ${index}` }, `${Math.round(value)}%`)
          core.style.background = `color-mix(in srgb, var(--accent) ${Math.round(value)}%, var(--line))`
          return core
        }))),
      el('section', { class: 'panel' }, el('h2', {}, 'Memory'), kv([
        ['used', `${bytes(memory.used)} of ${bytes(memory.total)} (${pct(figures.mem_usage)})`], ['available', bytes(memory.available)],
        ['cached / buffers', `${bytes(memory.cached)} / ${bytes(memory.buffers)}`],
        ['swap', `${bytes(memory.swap_used)} of ${bytes(memory.swap_total)} (${pct(memory.swap_percent)})`],
      ])),
      el('section', { class: 'panel' }, el('h2', {}, 'Disks'), table(['mount', 'device', 'used', 'size', 'read', 'write', 'IOPS r/w', 'util'],
        (snapshot.disks ?? []).map((disk) => [disk.mount_point, disk.device, pct(disk.usage_percent), bytes(disk.total), bytes(disk.read_rate, '/s'),
          bytes(disk.write_rate, '/s'), `${fixed(disk.read_iops, 0)} / ${fixed(disk.write_iops, 0)}`, pct(disk.io_util)]))),
      el('section', { class: 'panel' }, el('h2', {}, 'Networks'), table(['interface', 'status', 'address', 'in', 'out', 'errors', 'speed'],
        (snapshot.networks ?? []).map((nic) => [nic.interface, nic.status, nic.ip_address, bytes(nic.rx_rate, '/s'), bytes(nic.tx_rate, '/s'),
          `${nic.rx_errors ?? 0} / ${nic.tx_errors ?? 0}`, nic.speed ? `${nic.speed} Mbit/s` : '–']))),
      el('section', { class: 'panel' }, el('h2', {}, `Temperatures (CPU ${celsius(figures.temperature)})`), table(['sensor', 'label', 'now', 'max', 'critical'],
        (snapshot.temperature?.sensors ?? []).map((sensor) => [sensor.name, sensor.label, celsius(sensor.current), limit(sensor.max), limit(sensor.critical)]))),
      el('section', { class: 'panel' }, el('h2', {}, 'Top processes'), table(['pid', 'name', 'user', 'CPU', 'memory', 'RSS', 'threads'],
        (snapshot.processes ?? []).map((process) => [String(process.pid ?? ''), process.name, process.user, pct(process.cpu_percent), pct(process.mem_percent),
          bytes(process.mem_rss), String(process.threads ?? '')]))),
    )
  }

  return every(async () => {
    await loadClusters()
    // The node's own route: its body is the snapshot as sent, its status and figures are headers.
    const [{ body: snapshot, headers }, alerts] = await Promise.all([
      apiResponse(`/api/v2/clusters/${encodeURIComponent(cluster)}/node-metrics/${encodeURIComponent(node)}`),
      alertsOf({ cluster, node }),
    ])
    showAlerts(alertsBox, alerts, 'Alerts on this node', { state: true })
    renderDetails(snapshot, headers.get('x-node-status') ?? 'online', JSON.parse(headers.get('x-node-figures') ?? '{}'))
    await loadHistory()
  })
}

// ---- alerts (issue 13) ----
const SEVERITY_CLASS = { critical: 'sev-critical', warning: 'sev-warning' }
const severityBadge = (severity) => el('span', { class: `badge ${SEVERITY_CLASS[severity] ?? 'sev-other'}` }, severity)
const unitOf = (figure) => FIGURES.find((entry) => entry.field === figure)?.unit
const nodeLink = (cluster, node) => el('a', { href: `#/node/${encodeURIComponent(cluster)}/${encodeURIComponent(node)}` }, node)

/** How long ago an instant was, coarsely. A sample's time is the agent's clock: one ahead of ours counts as now. */
function age(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min`
  return duration(seconds)
}
const instant = (iso, text) => el('time', { datetime: iso, title: new Date(iso).toLocaleString() }, text)

/**
 * The alerts of a query, or the Error that reading them gave: the overview and node page carry on
 * without them (the alerts store answers 503 while it is unavailable) and say so in their place.
 */
function alertsOf(query) {
  return api(`/api/v2/alerts?${new URLSearchParams(query)}`).then((body) => body.alerts, (error) => error)
}

/** A table of alerts; the columns a page needs besides severity, rule, summary and how long. */
function alertTable(alerts, { cluster = false, node = false, state = false } = {}) {
  const headers = [state && 'State', 'Severity', 'Rule', cluster && 'Cluster', node && 'Node', 'Summary', state ? 'For' : 'Firing for'].filter(Boolean)
  return el('table', { class: 'alert-table' },
    el('thead', {}, el('tr', {}, ...headers.map((header) => el('th', { scope: 'col' }, header)))),
    el('tbody', {}, ...alerts.map((alert) => {
      // Firing: since it fired; pending: since the condition began to hold.
      const since = alert.state === 'firing' && alert.fired_at ? alert.fired_at : alert.active_since
      const cells = [
        state && el('td', {}, el('span', { class: `badge state-${alert.state}` }, alert.state)),
        el('td', {}, severityBadge(alert.severity)),
        el('td', { class: 'rule' }, alert.rule),
        cluster && el('td', {}, alert.cluster),
        // agent_offline is the agent's alert, not a node's.
        node && el('td', {}, alert.node ? nodeLink(alert.cluster, alert.node) : el('span', { class: 'muted' }, 'agent')),
        el('td', { class: 'summary' }, alert.summary),
        el('td', {}, instant(since, age(since))),
      ].filter(Boolean)
      return el('tr', { class: `alert-row ${alert.state}`, 'data-rule': alert.rule, 'data-node': alert.node }, ...cells)
    })))
}

/** Fills an alerts box at the top of a page, or hides it when nothing is active: no empty box. */
function showAlerts(box, alerts, title, columns) {
  if (alerts instanceof Error) {
    box.hidden = false
    box.className = 'panel alerts'
    return box.replaceChildren(el('p', { class: 'error' }, `Alerts could not be read: ${alerts.message}`))
  }
  box.hidden = alerts.length === 0
  if (alerts.length === 0) return box.replaceChildren()
  const firing = alerts.filter((alert) => alert.state === 'firing')
  const worst = firing.some((alert) => alert.severity === 'critical') ? 'critical' : firing.length > 0 ? 'warning' : 'pending'
  box.className = `panel alerts ${worst}`
  const count = firing.length === alerts.length ? `${firing.length} firing` : `${firing.length} firing, ${alerts.length - firing.length} pending`
  box.replaceChildren(
    el('h2', { id: 'alerts-title' }, `${title} `, el('span', { class: 'muted' }, `(${count})`), ' ', el('a', { href: '#/alerts', class: 'more' }, 'all alerts and rules')),
    alertTable(alerts, columns),
  )
}

const SOURCES = {
  defaults: 'the built-in defaults',
  file: 'the ALERT_RULES file',
  api: 'set through the API',
  none: 'ALERT_RULES=none: no rules',
}
const HISTORY_ROWS = 200

function condition(rule) {
  if (rule.figure === 'stale') return 'node silent'
  if (rule.figure === 'agent_offline') return 'agent silent'
  const unit = unitOf(rule.figure)
  return `${rule.op} ${rule.threshold}${unit ? ` ${unit}` : ''}`
}

/** The rules in force and where they come from, the notification targets, every active alert and the last day's changes. */
function alertsPage() {
  const view = $('#view')
  const active = el('section', { class: 'panel', id: 'active-alerts', 'aria-labelledby': 'active-title' })
  const rules = el('section', { class: 'panel', id: 'rules', 'aria-labelledby': 'rules-title' })
  const notify = el('section', { class: 'panel', id: 'notify', 'aria-labelledby': 'notify-title' })
  const changes = el('section', { class: 'panel', id: 'transitions', 'aria-labelledby': 'transitions-title' })
  view.replaceChildren(el('h1', {}, 'Alerts'), active, rules, notify, changes)
  const table = (headers, rows, attributes = {}) => el('table', attributes,
    el('thead', {}, el('tr', {}, ...headers.map((header) => el('th', { scope: 'col' }, header)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell ?? '–'))))))

  return every(async () => {
    const [, now, inForce, history] = await Promise.all([
      loadClusters(), api('/api/v2/alerts'), api('/api/v2/alert-rules'), api('/api/v2/alerts/history?hours=24'),
    ])
    active.replaceChildren(
      el('h2', { id: 'active-title' }, 'Active alerts ', el('span', { class: 'muted' }, `(${now.alerts.length})`)),
      now.alerts.length > 0 ? alertTable(now.alerts, { cluster: true, node: true, state: true }) : el('p', { class: 'muted' }, 'No alert is pending or firing.'),
    )

    rules.replaceChildren(
      el('h2', { id: 'rules-title' }, 'Rules in force ', el('span', { class: 'muted' }, `(${inForce.rules.length})`)),
      el('p', { class: 'muted', 'data-source': inForce.source }, `Source: ${inForce.source} (${SOURCES[inForce.source] ?? inForce.source}), since `,
        instant(inForce.updated_at, new Date(inForce.updated_at).toLocaleString())),
      inForce.rules.length > 0
        ? table(['Name', 'Figure', 'Condition', 'For', 'Resolve', 'Severity', 'Clusters', 'Nodes', 'Description'], inForce.rules.map((rule) => [
          rule.name, rule.figure, condition(rule), !rule.for || rule.for === '0' ? 'at once' : rule.for,
          rule.resolve === undefined ? undefined : `${rule.resolve}${unitOf(rule.figure) ? ` ${unitOf(rule.figure)}` : ''}`,
          severityBadge(rule.severity), rule.clusters.includes('*') ? 'all' : rule.clusters.join(', '), rule.nodes === '*' ? 'all' : rule.nodes,
          rule.description,
        ]), { id: 'rule-table' })
        : el('p', { class: 'muted' }, 'No rule is in force: nothing is judged.'),
    )

    notify.replaceChildren(
      el('h2', { id: 'notify-title' }, 'Notification targets'),
      inForce.notify.length > 0
        ? table(['Type', 'URL', 'Headers'], inForce.notify.map((target) => [target.type, el('code', {}, target.url),
          Object.keys(target.headers ?? {}).map((name) => `${name}: ${target.headers[name]}`).join(', ') || undefined]), { id: 'notify-table' })
        : el('p', { class: 'muted' }, 'None: changes of state are only shown here and in the API.'),
    )

    // The API lists them oldest first; the newest matter most here.
    const figureOf = Object.fromEntries(inForce.rules.map((rule) => [rule.name, rule.figure]))
    const newest = history.transitions.slice(-HISTORY_ROWS).reverse()
    changes.replaceChildren(
      el('h2', { id: 'transitions-title' }, 'Last 24 h ', el('span', { class: 'muted' },
        history.transitions.length > HISTORY_ROWS ? `(newest ${HISTORY_ROWS} of ${history.transitions.length} changes)` : `(${history.transitions.length} changes)`)),
      newest.length > 0
        ? table(['Time', 'Rule', 'Severity', 'Cluster', 'Node', 'Change', 'Value'], newest.map((change) => [
          instant(change.at, new Date(change.at).toLocaleString()), change.rule, severityBadge(change.severity), change.cluster,
          change.node || el('span', { class: 'muted' }, 'agent'), `${change.from} → ${change.to}`,
          change.value === null ? undefined : format(unitOf(figureOf[change.rule]), change.value),
        ]), { id: 'transition-table', class: 'compact' })
        : el('p', { class: 'muted' }, 'No alert changed state in the last 24 h.'),
    )
  })
}

function format(unit, value) {
  if (value === null || value === undefined) return '–'
  if (unit === 'B/s') return bytes(value, '/s')
  return unit ? `${fixed(value)} ${unit}` : fixed(value, 2)
}

$('#cluster').addEventListener('change', (event) => {
  state.cluster = event.target.value
  localStorage.setItem('nmm-cluster', state.cluster)
  if (location.hash && location.hash !== '#/') location.hash = '#/'
  else route()
})
window.addEventListener('hashchange', route)
window.addEventListener('resize', () => {
  for (const chart of state.charts) chart.setSize({ width: Math.max(280, chart.root.parentElement.clientWidth), height: 200 })
})
route()
