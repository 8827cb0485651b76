import type { NodeMetricsSnapshot } from './node-metrics'

/**
 * The figure registry: every figure the master derives from a node's snapshot and keeps a trend
 * of, listed once. The history schema and the API fields, the storage columns and their
 * encoding, the SQL, the Prometheus gauges, AtlHyper's history fields and the dashboard's charts
 * all come from this list — adding a figure is a change here (its columns are added to existing
 * databases by storage/migrations.ts).
 */

type Node = NodeMetricsSnapshot
type Disk = NonNullable<Node['disks']>[number]
type Nic = NonNullable<Node['networks']>[number]

/** A node's snapshot with what several figures need worked out once (figures/view.ts). */
export interface NodeView {
  node: Node
  /** false for AtlHyper's first sample after a restart: every CPU percentage is 0 */
  cpuMeasured: boolean
  /** false when memory.total is 0: Go's zero value, nothing was read */
  memoryMeasured: boolean
  /** the `/` mount, else the first disk (as AtlHyper picks it) */
  primaryDisk?: { disk: Disk; index: number }
  /** where the primary disk's I/O is reported: its own entry, or its block device's (figures/view.ts) */
  primaryIo?: { disk: Disk; index: number }
  /** the interfaces the node network rate is summed over: physical ones (see figures/network.ts) */
  nics: { nic: Nic; index: number }[]
}

/** One value a figure is made of: where it is in the node (a JSON path) and, for a rate, its own ceiling. */
export interface Input {
  /** undefined or null: this part of the figure is not reported, so the figure is missing for the sample */
  value: unknown
  /** JSON path under the node, e.g. /networks/2/rx_rate */
  path: string
  /** the path without indexes, for counting drops: networks.rx_rate */
  field: string
  /** a tighter ceiling than the figure's own, with the reason named when it is passed */
  max?: { value: number; reason: string }
}

export interface Figure {
  /** storage column base: `{key}` in the latest table; `{key}_sum`, `{key}_n`, `{key}_max` in history */
  key: string
  /** history point field (its peak is `{field}_max`) and fleet metric name */
  field: string
  unit: '%' | '°C' | 'B/s' | ''
  /** history stores round(value × scale) as an integer: percentages in hundredths, °C in tenths */
  scale: number
  description: string
  /** physical range: a value outside it is dropped from the sample, never stored */
  bounds: { min: number; max: number; above: string }
  /** the values the figure is made of — one, or several that are summed; none when the node does not report it */
  inputs(view: NodeView): Input[]
  prometheus: { name: string; help: string }
  /** the dashboard draws figures with the same chart title in one chart */
  chart: { title: string; label: string; range?: readonly [number, number] }
  /** the field of AtlHyper's MetricsDataPoint */
  atlhyper: string
}

/** Rates above this are counter arithmetic gone wrong (a reset read as unsigned), not traffic. */
export const MAX_RATE_BYTES_PS = 1e12
export const PERCENT = { min: 0, max: 100, above: 'out_of_range' } as const
const RATE = { min: 0, max: MAX_RATE_BYTES_PS, above: 'above_bound' } as const

const one = (value: unknown, path: string, field: string): Input[] => (value === undefined || value === null ? [] : [{ value, path, field }])

const fromPrimaryDisk = (view: NodeView, name: 'usage_percent' | 'read_rate' | 'write_rate'): Input[] => {
  const entry = name === 'usage_percent' ? view.primaryDisk : view.primaryIo
  if (!entry) return []
  // A file system of size 0 was not measured (AtlHyper lists I/O-only devices so): no usage, but its I/O counts.
  if (name === 'usage_percent' && entry.disk.total === 0) return []
  return one(entry.disk[name], `/disks/${entry.index}/${name}`, `disks.${name}`)
}

/** A link carries at most its speed each way; twice that leaves room for bursts and counting slack. */
const linkCeiling = (nic: Nic) =>
  typeof nic.speed === 'number' && nic.speed > 0 ? { value: Math.min(MAX_RATE_BYTES_PS, (2 * nic.speed * 1e6) / 8), reason: 'above_link_speed' } : undefined

/**
 * Every counted interface's rate. One without a rate (a new interface, a counter reset our agent
 * skips) is an input without a value: the sum is then missing, not partial. With no rate at all
 * the node reports no figure.
 */
const overNics = (view: NodeView, name: 'rx_rate' | 'tx_rate'): Input[] => {
  if (view.nics.every(({ nic }) => nic[name] === undefined || nic[name] === null)) return []
  return view.nics.map(({ nic, index }) => ({ value: nic[name], path: `/networks/${index}/${name}`, field: `networks.${name}`, max: linkCeiling(nic) }))
}

export const FIGURES = [
  {
    key: 'cpu', field: 'cpu_usage', unit: '%', scale: 100, description: 'CPU usage', bounds: PERCENT,
    inputs: (view) => (view.cpuMeasured ? one(view.node.cpu?.usage_percent, '/cpu/usage_percent', 'cpu.usage_percent') : []),
    prometheus: { name: 'node_cpu_usage_percent', help: 'CPU usage of the node, %.' },
    chart: { title: 'CPU', label: 'CPU', range: [0, 100] },
    atlhyper: 'cpu_usage',
  },
  {
    key: 'mem', field: 'mem_usage', unit: '%', scale: 100, description: 'memory usage', bounds: PERCENT,
    inputs: (view) => (view.memoryMeasured ? one(view.node.memory?.usage_percent, '/memory/usage_percent', 'memory.usage_percent') : []),
    prometheus: { name: 'node_memory_usage_percent', help: 'Memory usage of the node, %.' },
    chart: { title: 'Memory', label: 'memory', range: [0, 100] },
    atlhyper: 'memory_usage',
  },
  {
    key: 'disk', field: 'disk_usage', unit: '%', scale: 100, description: 'primary disk (/ or the first) usage', bounds: PERCENT,
    inputs: (view) => fromPrimaryDisk(view, 'usage_percent'),
    prometheus: { name: 'node_disk_usage_percent', help: 'Usage of the primary disk (/ or the first) of the node, %.' },
    chart: { title: 'Disk (/ or first)', label: 'disk', range: [0, 100] },
    atlhyper: 'disk_usage',
  },
  {
    key: 'temp', field: 'temperature', unit: '°C', scale: 10, description: 'CPU temperature',
    bounds: { min: -60, max: 200, above: 'out_of_range' },
    // AtlHyper leaves cpu_temp at 0 when it finds no CPU sensor (VMs, NVMe-only hwmon): 0 is "none".
    inputs: (view) => (view.node.temperature?.cpu_temp === 0 ? [] : one(view.node.temperature?.cpu_temp, '/temperature/cpu_temp', 'temperature.cpu_temp')),
    prometheus: { name: 'node_cpu_temperature_celsius', help: 'CPU temperature of the node, °C.' },
    chart: { title: 'CPU temperature', label: 'temperature' },
    atlhyper: 'cpu_temp',
  },
  {
    key: 'net_rx', field: 'net_rx_bytes_ps', unit: 'B/s', scale: 1, description: 'received over the physical interfaces', bounds: RATE,
    inputs: (view) => overNics(view, 'rx_rate'),
    prometheus: { name: 'node_network_receive_bytes_per_second', help: 'Bytes/s received over the physical interfaces of the node.' },
    chart: { title: 'Network', label: 'received' },
    atlhyper: 'network_rx',
  },
  {
    key: 'net_tx', field: 'net_tx_bytes_ps', unit: 'B/s', scale: 1, description: 'sent over the physical interfaces', bounds: RATE,
    inputs: (view) => overNics(view, 'tx_rate'),
    prometheus: { name: 'node_network_transmit_bytes_per_second', help: 'Bytes/s sent over the physical interfaces of the node.' },
    chart: { title: 'Network', label: 'sent' },
    atlhyper: 'network_tx',
  },
  {
    key: 'disk_read', field: 'disk_read_bytes_ps', unit: 'B/s', scale: 1, description: 'read from the primary disk', bounds: RATE,
    inputs: (view) => fromPrimaryDisk(view, 'read_rate'),
    prometheus: { name: 'node_disk_read_bytes_per_second', help: 'Bytes/s read from the primary disk of the node.' },
    chart: { title: 'Disk I/O (/ or first)', label: 'read' },
    atlhyper: 'disk_io_read',
  },
  {
    key: 'disk_write', field: 'disk_write_bytes_ps', unit: 'B/s', scale: 1, description: 'written to the primary disk', bounds: RATE,
    inputs: (view) => fromPrimaryDisk(view, 'write_rate'),
    prometheus: { name: 'node_disk_write_bytes_per_second', help: 'Bytes/s written to the primary disk of the node.' },
    chart: { title: 'Disk I/O (/ or first)', label: 'written' },
    atlhyper: 'disk_io_write',
  },
  {
    key: 'load1', field: 'load_1', unit: '', scale: 100, description: '1-minute load average',
    bounds: { min: 0, max: 1e6, above: 'out_of_range' },
    // On AtlHyper's first sample the load was not read either.
    inputs: (view) => (!view.cpuMeasured && view.node.cpu?.load_1 === 0 ? [] : one(view.node.cpu?.load_1, '/cpu/load_1', 'cpu.load_1')),
    prometheus: { name: 'node_load1', help: '1-minute load average of the node.' },
    chart: { title: 'Load', label: '1 min' },
    atlhyper: 'load_1',
  },
] as const satisfies readonly Figure[]

/**
 * What the latest table keeps besides the registry's figures, for the summaries: not kept as
 * history. `key` is the field of a writer row (figures/derive.ts LatestExtras), `column` its column.
 */
export const LATEST_EXTRAS = [
  { key: 'cores', column: 'cores' },
  { key: 'memTotal', column: 'mem_total' },
  { key: 'memUsed', column: 'mem_used' },
  { key: 'diskMax', column: 'disk_max' },
  { key: 'diskMaxMount', column: 'disk_max_mount' },
  { key: 'diskTotal', column: 'disk_total' },
  { key: 'diskUsed', column: 'disk_used' },
] as const

/** The latest table's figure columns, in the order writers bind them. */
export const LATEST_COLUMNS: readonly string[] = [...FIGURES.map((figure) => figure.key), ...LATEST_EXTRAS.map((extra) => extra.column)]

export type FigureKey = (typeof FIGURES)[number]['key']
export type FigureField = (typeof FIGURES)[number]['field']
export const FIGURE_FIELDS = FIGURES.map((figure) => figure.field) as readonly FigureField[]
