import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { FIGURES } from './figures'
import { Name, NodeMetricsSnapshot } from './node-metrics'

/**
 * AtlHyper's own read API (its master's gateway/handler/node_metrics.go, read by its web UI's
 * api/node-metrics.ts), so a team moving from AtlHyper's master keeps its web UI. Its shapes have
 * no null: a figure no node (or no sample) reports reads 0 there, as it did in AtlHyper's master.
 */
export const AtlHyperQuery = t.Object({ cluster_id: Name })
export const AtlHyperHistoryQuery = t.Object({
  cluster_id: Name,
  hours: t.Optional(
    t.String({
      description: "hours of history, read as AtlHyper reads it (Go's strconv.Atoi): anything but a positive decimal integer within int64 reads 24, past 720 reads 720",
    }),
  ),
})

/**
 * AtlHyper's reading of `hours`: Go's strconv.Atoi (optional sign, decimal digits, within int64 —
 * past it Atoi fails), then anything but a positive integer is 24; RETENTION's default 30 days
 * hold 720. Kept as AtlHyper's UI expects it, so it is a string here, not a checked integer.
 */
export function atlhyperHours(text: string | undefined): number {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return 24
  const integer = BigInt(text) // exact: 2^63 must fail as Atoi does, which a double cannot tell from 2^63 - 1
  if (integer < -(2n ** 63n) || integer > 2n ** 63n - 1n || integer <= 0n) return 24
  return integer > 720n ? 720 : Number(integer)
}

const number = (description: string) => t.Number({ description })

export const AtlHyperSummary = t.Object({
  total_nodes: Type.Integer({ description: 'nodes with metrics' }),
  online_nodes: Type.Integer({ description: 'nodes reporting (not stale)' }),
  offline_nodes: Type.Integer({ description: 'stale nodes' }),
  avg_cpu_usage: number('mean over online nodes, %'),
  avg_memory_usage: number('mean over online nodes, %'),
  avg_disk_usage: number('mean primary-disk usage over online nodes, %'),
  max_cpu_usage: number('%'),
  max_memory_usage: number('%'),
  max_disk_usage: number('fullest primary disk, %'),
  avg_cpu_temp: number('mean over online nodes with a CPU sensor, °C'),
  max_cpu_temp: number('°C'),
  total_memory: number('bytes'),
  used_memory: number('bytes'),
  total_disk: number('primary disks, bytes'),
  used_disk: number('primary disks, bytes'),
  total_network_rx: number('bytes/s over the physical interfaces'),
  total_network_tx: number('bytes/s over the physical interfaces'),
})
export type AtlHyperSummary = Static<typeof AtlHyperSummary>

export const AtlHyperNodeList = t.Object({
  summary: AtlHyperSummary,
  nodes: t.Array(NodeMetricsSnapshot, { description: 'the latest snapshot of every node, as its agent sent it, by name' }),
})

/** AtlHyper's MetricsDataPoint: the registry's figures under AtlHyper's names. */
export const AtlHyperPoint = t.Object({
  timestamp: t.String({ description: 'bucket start, RFC 3339' }),
  node_name: t.String(),
  ...Object.fromEntries(FIGURES.map((figure) => [figure.atlhyper, number(`${figure.description}: the bucket's average (0: no sample had it)`)])),
})

export const AtlHyperHistory = t.Object({
  node_name: t.String(),
  start: t.String({ description: 'RFC 3339' }),
  end: t.String({ description: 'RFC 3339' }),
  data: t.Array(AtlHyperPoint, { description: 'every SAMPLE_INTERVAL point of the range, ascending' }),
})

/**
 * AtlHyper's model_v2 NodeMetricsSnapshot as Go's zero values: what AtlHyper's web UI reads
 * without checking (`cpu.frequency.toFixed()`, `temperature.sensors`). Lists are Go's nil (`null`),
 * which the UI reads as empty. `items` are the zero values of a list's elements.
 */
export const ATLHYPER_ZERO_NODE = {
  node_name: '', timestamp: '0001-01-01T00:00:00Z', hostname: '', os: '', kernel: '', uptime: 0,
  cpu: {
    usage_percent: 0, user_percent: 0, system_percent: 0, idle_percent: 0, iowait_percent: 0, per_core: null,
    load_1: 0, load_5: 0, load_15: 0, model: '', cores: 0, threads: 0, frequency: 0,
  },
  memory: {
    total: 0, used: 0, available: 0, free: 0, usage_percent: 0, cached: 0, buffers: 0, swap_total: 0, swap_used: 0, swap_free: 0, swap_percent: 0,
  },
  disks: null,
  networks: null,
  temperature: { cpu_temp: 0, cpu_temp_max: 0, sensors: null },
  processes: null,
} as const

export const ATLHYPER_ZERO_ITEMS: Record<string, Record<string, unknown>> = {
  disks: {
    device: '', mount_point: '', fs_type: '', total: 0, used: 0, available: 0, usage_percent: 0, read_bytes: 0, write_bytes: 0,
    read_rate: 0, write_rate: 0, read_iops: 0, write_iops: 0, io_util: 0,
  },
  networks: {
    interface: '', ip_address: '', mac_address: '', status: '', speed: 0, mtu: 0, rx_bytes: 0, tx_bytes: 0, rx_packets: 0, tx_packets: 0,
    rx_rate: 0, tx_rate: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0,
  },
  sensors: { name: '', label: '', current: 0, max: 0, critical: 0 },
  processes: { pid: 0, name: '', cmdline: '', user: '', status: '', cpu_percent: 0, mem_percent: 0, mem_rss: 0, threads: 0, start_time: 0 },
}
