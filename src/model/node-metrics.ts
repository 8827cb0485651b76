import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

// Integers come from TypeBox itself: Elysia's t.Integer also accepts numeric strings, which
// suits a query string but not an agent's JSON.

/**
 * The NodeMetricsSnapshot an agent sends for one node (DESIGN §3). Every group is optional
 * except the node's name and the time it was measured; groups carry extra fields through,
 * so a newer agent is not rejected for reporting more than this master knows.
 */

/**
 * Cluster ids and node names end up in URLs, map keys and log lines: a safe alphabet, and none
 * of the names that mean something to a JavaScript object.
 */
export const Name = t.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^(?!(?:__proto__|constructor|prototype|\\.)$)(?!.*\\.\\.)[A-Za-z0-9._:-]+$',
  description:
    'a name of 1–253 characters of [A-Za-z0-9._:-], without "..", other than ".", __proto__, constructor and prototype',
})

const RFC3339 =
  '^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$'

export const Timestamp = t.Union(
  [t.String({ pattern: RFC3339, description: 'RFC 3339' }), t.Number({ description: 'epoch milliseconds' })],
  { description: 'RFC 3339 string or epoch milliseconds' },
)

/** Percent bounds allow a little rounding noise above 100 from agents that sum per-core figures. */
const Percent = t.Number({ minimum: 0, maximum: 100.5 })
const Bytes = t.Number({ minimum: 0 })
const Rate = t.Number({ minimum: 0 })
const Count = t.Number({ minimum: 0 })
const Celsius = t.Number({ minimum: -273.15, maximum: 1000 })

const group = <P extends Parameters<typeof t.Object>[0]>(properties: P, description: string) =>
  t.Object(properties, { additionalProperties: true, description })

export const CpuMetrics = group(
  {
    usage_percent: t.Optional(Percent),
    user_percent: t.Optional(Percent),
    system_percent: t.Optional(Percent),
    idle_percent: t.Optional(Percent),
    iowait_percent: t.Optional(Percent),
    per_core: t.Optional(t.Array(Percent, { maxItems: 4096 })),
    load_1: t.Optional(Count),
    load_5: t.Optional(Count),
    load_15: t.Optional(Count),
    model: t.Optional(t.String({ maxLength: 512 })),
    cores: t.Optional(Type.Integer({ minimum: 0, maximum: 65536 })),
    threads: t.Optional(Type.Integer({ minimum: 0, maximum: 65536 })),
    frequency: t.Optional(t.Number({ minimum: 0, description: 'MHz' })),
  },
  'CPU usage (%), load averages and identity',
)

export const MemoryMetrics = group(
  {
    total: t.Optional(Bytes),
    used: t.Optional(Bytes),
    available: t.Optional(Bytes),
    free: t.Optional(Bytes),
    usage_percent: t.Optional(Percent),
    cached: t.Optional(Bytes),
    buffers: t.Optional(Bytes),
    swap_total: t.Optional(Bytes),
    swap_used: t.Optional(Bytes),
    swap_free: t.Optional(Bytes),
    swap_percent: t.Optional(Percent),
  },
  'Memory and swap, bytes and %',
)

export const DiskMetrics = group(
  {
    device: t.Optional(t.String({ maxLength: 1024 })),
    mount_point: t.Optional(t.String({ maxLength: 4096 })),
    fs_type: t.Optional(t.String({ maxLength: 64 })),
    total: t.Optional(Bytes),
    used: t.Optional(Bytes),
    available: t.Optional(Bytes),
    usage_percent: t.Optional(Percent),
    read_bytes: t.Optional(Bytes),
    write_bytes: t.Optional(Bytes),
    read_rate: t.Optional(Rate),
    write_rate: t.Optional(Rate),
    read_iops: t.Optional(Rate),
    write_iops: t.Optional(Rate),
    io_util: t.Optional(Percent),
  },
  'One mounted file system with its device I/O',
)

export const NetworkMetrics = group(
  {
    interface: t.Optional(t.String({ maxLength: 256 })),
    ip_address: t.Optional(t.String({ maxLength: 256 })),
    mac_address: t.Optional(t.String({ maxLength: 64 })),
    status: t.Optional(t.String({ maxLength: 32, description: '"up" counts into the node network rate' })),
    speed: t.Optional(t.Number({ minimum: 0, description: 'Mbit/s' })),
    mtu: t.Optional(Count),
    rx_bytes: t.Optional(Bytes),
    tx_bytes: t.Optional(Bytes),
    rx_packets: t.Optional(Count),
    tx_packets: t.Optional(Count),
    rx_rate: t.Optional(t.Number({ minimum: 0, description: 'bytes/s' })),
    tx_rate: t.Optional(t.Number({ minimum: 0, description: 'bytes/s' })),
    rx_errors: t.Optional(Count),
    tx_errors: t.Optional(Count),
    rx_dropped: t.Optional(Count),
    tx_dropped: t.Optional(Count),
  },
  'One network interface',
)

export const TemperatureSensor = group(
  {
    name: t.Optional(t.String({ maxLength: 256 })),
    label: t.Optional(t.String({ maxLength: 256 })),
    current: t.Optional(Celsius),
    max: t.Optional(Celsius),
    critical: t.Optional(Celsius),
  },
  'One temperature sensor, °C',
)

export const TemperatureMetrics = group(
  {
    cpu_temp: t.Optional(Celsius),
    cpu_temp_max: t.Optional(Celsius),
    sensors: t.Optional(t.Array(TemperatureSensor, { maxItems: 1024 })),
  },
  'Temperatures, °C',
)

export const ProcessMetrics = group(
  {
    pid: t.Optional(Type.Integer({ minimum: 0 })),
    name: t.Optional(t.String({ maxLength: 1024 })),
    cmdline: t.Optional(t.String({ maxLength: 8192 })),
    user: t.Optional(t.String({ maxLength: 256 })),
    status: t.Optional(t.String({ maxLength: 64 })),
    cpu_percent: t.Optional(t.Number({ minimum: 0, description: 'may exceed 100 on several cores' })),
    mem_percent: t.Optional(Percent),
    mem_rss: t.Optional(Bytes),
    threads: t.Optional(Count),
    start_time: t.Optional(t.Union([t.String({ maxLength: 64 }), t.Number()])),
  },
  'One of the top processes',
)

/** Optional extras: flat objects of numbers, or one level of named sub-objects (psi.cpu.avg10). */
const NumberGroup = (description: string) =>
  t.Optional(
    t.Record(
      t.String({ maxLength: 256 }),
      t.Union([t.Number(), t.Record(t.String({ maxLength: 256 }), t.Number(), { additionalProperties: false })]),
      { description, additionalProperties: false },
    ),
  )

export const NodeMetricsSnapshot = t.Object(
  {
    node_name: Name,
    timestamp: Timestamp,
    hostname: t.Optional(t.String({ maxLength: 253 })),
    os: t.Optional(t.String({ maxLength: 256 })),
    kernel: t.Optional(t.String({ maxLength: 256 })),
    uptime: t.Optional(t.Number({ minimum: 0, description: 'seconds' })),
    cpu: t.Optional(CpuMetrics),
    memory: t.Optional(MemoryMetrics),
    disks: t.Optional(t.Array(DiskMetrics, { maxItems: 1024 })),
    networks: t.Optional(t.Array(NetworkMetrics, { maxItems: 1024 })),
    temperature: t.Optional(TemperatureMetrics),
    processes: t.Optional(t.Array(ProcessMetrics, { maxItems: 1000 })),
    psi: NumberGroup('Pressure stall information'),
    tcp: NumberGroup('TCP counters'),
    system: NumberGroup('System counters'),
    vmstat: NumberGroup('/proc/vmstat figures'),
    ntp: NumberGroup('Clock synchronisation'),
    softnet: NumberGroup('softnet statistics'),
  },
  { additionalProperties: true, description: 'The newest metrics of one node, as its agent sent them' },
)

export type NodeMetricsSnapshot = Static<typeof NodeMetricsSnapshot>
