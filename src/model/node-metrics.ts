import { t, type Static } from 'elysia'
import { maybe, num, numberOrNull, scalar, str } from './scalars'

/**
 * The NodeMetricsSnapshot an agent sends for one node (docs/design.md §3), as AtlHyper's Go agent
 * marshals it: every field present, nil slices as `null`. The schema checks structure only —
 * types, and bounds on how many items an array may hold. Values out of their physical range are
 * the figure registry's business (model/figures.ts): they are left out of the derived figures
 * and reported, and the snapshot is stored as it came. Every group carries extra fields through,
 * so a newer agent is not rejected for reporting more than this master knows.
 */

/**
 * Cluster ids and node names end up in URLs, map keys and log lines: a safe alphabet, and none
 * of the names that mean something to a JavaScript object. ingest/names.ts says which character
 * of a refused name is wrong.
 */
export const Name = t.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^(?!(?:__proto__|constructor|prototype|\\.)$)(?!.*\\.\\.)[A-Za-z0-9._:-]+$',
  description:
    'a name of 1–253 characters of [A-Za-z0-9._:-], without "..", other than ".", __proto__, constructor and prototype',
})

export const Timestamp = t.Union(
  [t.String({ description: 'RFC 3339, e.g. 2026-11-27T20:59:18.482913675+08:00' }), t.Number({ description: 'epoch milliseconds' })],
  { description: 'RFC 3339 string (any zone, up to 9 fraction digits) or epoch milliseconds' },
)

const group = <P extends Parameters<typeof t.Object>[0]>(properties: P, description: string) =>
  maybe(t.Object(properties, { additionalProperties: true, description }))
const list = <T extends Parameters<typeof t.Array>[0]>(item: T, maxItems: number, description: string) =>
  maybe(t.Array(item, { maxItems, description: `${description} (at most ${maxItems})` }))
const item = <P extends Parameters<typeof t.Object>[0]>(properties: P, description: string) =>
  t.Object(properties, { additionalProperties: true, description })

export const CpuMetrics = group(
  {
    usage_percent: num('%, 0–100'),
    user_percent: num('%'),
    system_percent: num('%'),
    idle_percent: num('%'),
    iowait_percent: num('%'),
    per_core: maybe(t.Array(numberOrNull(), { maxItems: 4096, description: 'usage % per core (at most 4096)' })),
    load_1: num(),
    load_5: num(),
    load_15: num(),
    model: str(),
    cores: num('physical cores'),
    threads: num('logical CPUs'),
    frequency: num('MHz'),
  },
  'CPU usage (%), load averages and identity',
)

export const MemoryMetrics = group(
  {
    total: num('bytes'),
    used: num('bytes'),
    available: num('bytes'),
    free: num('bytes'),
    usage_percent: num('%, 0–100'),
    cached: num('bytes'),
    buffers: num('bytes'),
    swap_total: num('bytes'),
    swap_used: num('bytes'),
    swap_free: num('bytes'),
    swap_percent: num('%'),
  },
  'Memory and swap, bytes and %',
)

export const DiskMetrics = item(
  {
    device: str(),
    mount_point: str('"/" is the primary disk (else the first one)'),
    fs_type: str(),
    total: num('bytes; 0 means not measured'),
    used: num('bytes'),
    available: num('bytes'),
    usage_percent: num('%, 0–100'),
    read_bytes: num('bytes, since boot'),
    write_bytes: num('bytes, since boot'),
    read_rate: num('bytes/s'),
    write_rate: num('bytes/s'),
    read_iops: num(),
    write_iops: num(),
    io_util: num('%'),
  },
  'One mounted file system with its device I/O',
)

export const NetworkMetrics = item(
  {
    interface: str('virtual interfaces (NET_EXCLUDE) do not count into the node network rate'),
    ip_address: str(),
    mac_address: str(),
    status: str('"up" or empty counts into the node network rate'),
    physical: maybe(t.Boolean({ description: 'backed by a device (/sys/class/net/X/device); false leaves it out of the node network rate' })),
    speed: num('Mbit/s; bounds the rates: above 2 × the link speed a rate is dropped'),
    mtu: num(),
    rx_bytes: num('bytes, since boot'),
    tx_bytes: num('bytes, since boot'),
    rx_packets: num(),
    tx_packets: num(),
    rx_rate: num('bytes/s'),
    tx_rate: num('bytes/s'),
    rx_errors: num(),
    tx_errors: num(),
    rx_dropped: num(),
    tx_dropped: num(),
  },
  'One network interface',
)

export const TemperatureSensor = item(
  {
    name: str(),
    label: str(),
    current: num('°C'),
    max: num('°C (kernels report 65261.85 for "unset")'),
    critical: num('°C'),
  },
  'One temperature sensor, °C',
)

export const TemperatureMetrics = group(
  {
    cpu_temp: num('°C; 0 means no CPU sensor was found'),
    cpu_temp_max: num('°C'),
    sensors: list(TemperatureSensor, 1024, 'sensors'),
  },
  'Temperatures, °C',
)

export const ProcessMetrics = item(
  {
    pid: num(),
    name: str(),
    cmdline: str(),
    user: str(),
    status: str(),
    cpu_percent: num('may exceed 100 on several cores'),
    mem_percent: num('%'),
    mem_rss: num('bytes'),
    threads: num(),
    start_time: maybe(t.Union([t.String(), t.Number()], { description: 'unix seconds or RFC 3339' })),
  },
  'One of the top processes',
)

/** Optional extras (node_exporter era): figures, flags and strings, or one level of named sub-objects (psi.cpu.avg10). */
const ExtraGroup = (description: string) =>
  maybe(t.Record(t.String(), t.Union([scalar(), t.Record(t.String(), scalar())]), { description, additionalProperties: false }))

export const NodeMetricsSnapshot = t.Object(
  {
    node_name: Name,
    timestamp: Timestamp,
    hostname: str(),
    os: str(),
    kernel: str(),
    uptime: num('seconds'),
    cpu: CpuMetrics,
    memory: MemoryMetrics,
    disks: list(DiskMetrics, 1024, 'mounted file systems'),
    networks: list(NetworkMetrics, 1024, 'interfaces'),
    temperature: TemperatureMetrics,
    processes: list(ProcessMetrics, 1000, 'top processes'),
    psi: ExtraGroup('Pressure stall information'),
    tcp: ExtraGroup('TCP counters'),
    system: ExtraGroup('System counters'),
    vmstat: ExtraGroup('/proc/vmstat figures'),
    ntp: ExtraGroup('Clock synchronisation (synced is a boolean)'),
    softnet: ExtraGroup('softnet statistics'),
  },
  {
    additionalProperties: true,
    description:
      'The newest metrics of one node, byte for byte as its agent sent them (null means absent; unknown fields are kept)',
  },
)

export type NodeMetricsSnapshot = Static<typeof NodeMetricsSnapshot>
