import type { TSchema } from '@sinclair/typebox'
import type { NodeMetricsSnapshot } from '../model'
import { NodeMetricsV3 } from '../model/v3'
import { difference, numberOf } from '../json/exact-numbers'

type Value = unknown
const minus = difference
/** A value passed on as the agent sent it: null is absent. */
const copy = (value: Value) => (value === null ? undefined : value)

/** The object (or array) schema of a field that may also be null. */
const variant = (schema: TSchema, type: 'object' | 'array'): TSchema =>
  (schema.anyOf as TSchema[] | undefined)?.find((candidate) => candidate.type === type) ?? schema

/** The keys a schema object knows: the others are the agent's own additions, kept. */
const keysOf = (schema: TSchema) => new Set(Object.keys(variant(schema, 'object').properties ?? {}))
const itemKeysOf = (schema: TSchema) => keysOf(variant(schema, 'array').items)
const NODE_KEYS = keysOf(NodeMetricsV3)
const GROUP_KEYS = Object.fromEntries(
  ['cpu', 'memory', 'temperature', 'psi', 'tcp', 'system', 'vmstat', 'softnet'].map((group) => [group, keysOf(NodeMetricsV3.properties[group as 'cpu'])]),
)
const ITEM_KEYS = {
  disks: itemKeysOf(NodeMetricsV3.properties.disks),
  networks: itemKeysOf(NodeMetricsV3.properties.networks),
  sensors: itemKeysOf(variant(NodeMetricsV3.properties.temperature, 'object').properties.sensors),
}

/** The fields of `source` this mapping does not know, as they came. */
function unknownFields(source: Record<string, unknown> | null | undefined, known: Set<string>): Record<string, unknown> {
  const extra: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(source ?? {})) if (!known.has(key) && key !== '__proto__') extra[key] = value
  return extra
}

/** Drops the fields that came as undefined, so the mapped snapshot holds only what the agent said. */
function defined<T extends Record<string, unknown>>(object: T): T {
  for (const key of Object.keys(object)) if (object[key] === undefined) delete object[key]
  return object
}

type Node = Record<string, any>

/**
 * A model_v3 node (camelCase, rates instead of counters) as a NodeMetricsSnapshot: every field
 * that has a counterpart is mapped; the rest keep their meaning under a name of their own
 * (per-second packet and error rates, node_ip), and fields this master does not know are kept as
 * they came. Nothing is invented: `memory.used` is total − available, as AtlHyper's own master
 * computes it.
 */
export function mapV3Node(node: Node): NodeMetricsSnapshot {
  const { cpu, memory, temperature, psi, tcp, system, vmstat, softnet } = node
  const freq = (Array.isArray(cpu?.freqHz) ? cpu.freqHz : []).map(numberOf).filter((hz: number | undefined): hz is number => hz !== undefined)
  const speed = (bytesPerSecond: Value) => {
    const value = numberOf(bytesPerSecond)
    // model_v3 gives the link speed in bytes/s (node_network_speed_bytes); NodeMetricsSnapshot in Mbit/s.
    return value === undefined ? undefined : (value * 8) / 1e6
  }
  return defined({
    ...unknownFields(node, NODE_KEYS),
    node_name: node.nodeName,
    timestamp: node.timestamp,
    node_ip: copy(node.nodeIP),
    kernel: copy(node.kernel),
    uptime: copy(node.uptime),
    cpu: cpu ? defined({
      ...unknownFields(cpu, GROUP_KEYS.cpu!),
      usage_percent: copy(cpu.usagePct), user_percent: copy(cpu.userPct), system_percent: copy(cpu.systemPct),
      iowait_percent: copy(cpu.iowaitPct), load_1: copy(cpu.load1), load_5: copy(cpu.load5), load_15: copy(cpu.load15), cores: copy(cpu.cores),
      frequency: freq.length > 0 ? freq.reduce((sum: number, hz: number) => sum + hz, 0) / freq.length / 1e6 : undefined,
    }) : undefined,
    memory: memory ? defined({
      ...unknownFields(memory, GROUP_KEYS.memory!),
      total: copy(memory.totalBytes), used: minus(memory.totalBytes, memory.availableBytes), available: copy(memory.availableBytes),
      free: copy(memory.freeBytes), usage_percent: copy(memory.usagePct), cached: copy(memory.cachedBytes), buffers: copy(memory.buffersBytes),
      swap_total: copy(memory.swapTotalBytes), swap_used: minus(memory.swapTotalBytes, memory.swapFreeBytes), swap_free: copy(memory.swapFreeBytes),
      swap_percent: copy(memory.swapUsagePct),
    }) : undefined,
    disks: Array.isArray(node.disks) ? node.disks.map((disk: Node) => defined({
      ...unknownFields(disk, ITEM_KEYS.disks),
      device: copy(disk.device), mount_point: copy(disk.mountPoint), fs_type: copy(disk.fsType), total: copy(disk.totalBytes),
      used: minus(disk.totalBytes, disk.availBytes), available: copy(disk.availBytes), usage_percent: copy(disk.usagePct),
      read_rate: copy(disk.readBytesPerSec), write_rate: copy(disk.writeBytesPerSec), read_iops: copy(disk.readIOPS), write_iops: copy(disk.writeIOPS),
      io_util: copy(disk.ioUtilPct),
    })) : undefined,
    networks: Array.isArray(node.networks) ? node.networks.map((nic: Node) => defined({
      ...unknownFields(nic, ITEM_KEYS.networks),
      interface: copy(nic.interface),
      status: typeof nic.up === 'boolean' ? (nic.up ? 'up' : 'down') : undefined,
      speed: speed(nic.speedBps),
      mtu: copy(nic.mtu), rx_rate: copy(nic.rxBytesPerSec), tx_rate: copy(nic.txBytesPerSec),
      rx_packets_ps: copy(nic.rxPktPerSec), tx_packets_ps: copy(nic.txPktPerSec), rx_errors_ps: copy(nic.rxErrPerSec), tx_errors_ps: copy(nic.txErrPerSec),
      rx_dropped_ps: copy(nic.rxDropPerSec), tx_dropped_ps: copy(nic.txDropPerSec),
    })) : undefined,
    temperature: temperature ? defined({
      ...unknownFields(temperature, GROUP_KEYS.temperature!),
      cpu_temp: copy(temperature.cpuTempC), cpu_temp_max: copy(temperature.cpuMaxC), cpu_temp_critical: copy(temperature.cpuCritC),
      sensors: Array.isArray(temperature.sensors) ? temperature.sensors.map((sensor: Node) => defined({
        ...unknownFields(sensor, ITEM_KEYS.sensors),
        name: copy(sensor.chip), label: copy(sensor.sensor), current: copy(sensor.currentC), max: copy(sensor.maxC), critical: copy(sensor.critC),
      })) : undefined,
    }) : undefined,
    psi: psi ? defined({
      ...unknownFields(psi, GROUP_KEYS.psi!),
      cpu_some_percent: copy(psi.cpuSomePct), memory_some_percent: copy(psi.memSomePct), memory_full_percent: copy(psi.memFullPct),
      io_some_percent: copy(psi.ioSomePct), io_full_percent: copy(psi.ioFullPct),
    }) : undefined,
    tcp: tcp ? defined({
      ...unknownFields(tcp, GROUP_KEYS.tcp!),
      curr_estab: copy(tcp.currEstab), alloc: copy(tcp.alloc), in_use: copy(tcp.inUse), time_wait: copy(tcp.timeWait), sockets_used: copy(tcp.socketsUsed),
    }) : undefined,
    system: system ? defined({
      ...unknownFields(system, GROUP_KEYS.system!),
      conntrack_entries: copy(system.conntrackEntries), conntrack_limit: copy(system.conntrackLimit), filefd_allocated: copy(system.filefdAllocated),
      filefd_maximum: copy(system.filefdMax), entropy_available: copy(system.entropyBits),
    }) : undefined,
    vmstat: vmstat ? defined({
      ...unknownFields(vmstat, GROUP_KEYS.vmstat!),
      pgfault_ps: copy(vmstat.pgFaultPerSec), pgmajfault_ps: copy(vmstat.pgMajFaultPerSec), pswpin_ps: copy(vmstat.pswpInPerSec), pswpout_ps: copy(vmstat.pswpOutPerSec),
    }) : undefined,
    softnet: softnet ? defined({ ...unknownFields(softnet, GROUP_KEYS.softnet!), dropped_ps: copy(softnet.droppedPerSec), squeezed_ps: copy(softnet.squeezedPerSec) }) : undefined,
  }) as NodeMetricsSnapshot
}

/** model_v3 field ← the NodeMetricsSnapshot field it was mapped to, for the values figures are made of. */
const SOURCE_FIELDS: Record<string, string> = {
  'cpu/usage_percent': 'cpu/usagePct', 'cpu/user_percent': 'cpu/userPct', 'cpu/system_percent': 'cpu/systemPct',
  'cpu/iowait_percent': 'cpu/iowaitPct', 'cpu/load_1': 'cpu/load1', 'cpu/cores': 'cpu/cores',
  'memory/usage_percent': 'memory/usagePct', 'memory/total': 'memory/totalBytes',
  // used = totalBytes − availableBytes: negative when the agent reports more available than there is.
  'memory/used': 'memory/availableBytes',
  'temperature/cpu_temp': 'temperature/cpuTempC',
  'disks/usage_percent': 'usagePct', 'disks/read_rate': 'readBytesPerSec', 'disks/write_rate': 'writeBytesPerSec',
  'disks/total': 'totalBytes', 'disks/used': 'availBytes',
  'networks/rx_rate': 'rxBytesPerSec', 'networks/tx_rate': 'txBytesPerSec',
}

/** The path in the agent's model_v3 node of a value named by its mapped path (/networks/0/rx_rate → /networks/0/rxBytesPerSec). */
export function v3SourcePath(mappedPath: string): string {
  const listItem = /^\/(disks|networks)\/(\d+)\/(\w+)$/.exec(mappedPath)
  if (listItem) {
    const [, list, index, field] = listItem
    return `/${list}/${index}/${SOURCE_FIELDS[`${list}/${field}`] ?? field}`
  }
  return `/${SOURCE_FIELDS[mappedPath.slice(1)] ?? mappedPath.slice(1)}`
}
