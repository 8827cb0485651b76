import type { NodeMetricsSnapshot } from '../model'
import type { NodeMetricsV3 } from '../model/v3'

type Maybe = number | null | undefined
const has = (value: Maybe): value is number => typeof value === 'number'
const minus = (a: Maybe, b: Maybe) => (has(a) && has(b) ? a - b : undefined)

/** Drops the fields that came as undefined, so the mapped snapshot holds only what the agent said. */
function defined<T extends Record<string, unknown>>(object: T): T {
  for (const key of Object.keys(object)) if (object[key] === undefined) delete object[key]
  return object
}

/**
 * A model_v3 node (camelCase, rates instead of counters) as a NodeMetricsSnapshot: every field
 * that has a counterpart is mapped; the rest keep their meaning under a name of their own
 * (per-second packet and error rates, node_ip). Nothing is invented: `memory.used` is
 * total − available, as AtlHyper's own master computes it.
 */
export function mapV3Node(node: NodeMetricsV3): NodeMetricsSnapshot {
  const { cpu, memory, temperature, psi, tcp, system, vmstat, softnet } = node
  const freq = cpu?.freqHz?.filter(has) ?? []
  return defined({
    node_name: node.nodeName,
    timestamp: node.timestamp,
    node_ip: node.nodeIP ?? undefined,
    kernel: node.kernel ?? undefined,
    uptime: node.uptime ?? undefined,
    cpu: cpu ? defined({
      usage_percent: cpu.usagePct, user_percent: cpu.userPct, system_percent: cpu.systemPct, iowait_percent: cpu.iowaitPct,
      load_1: cpu.load1, load_5: cpu.load5, load_15: cpu.load15, cores: cpu.cores,
      frequency: freq.length > 0 ? freq.reduce((sum, hz) => sum + hz, 0) / freq.length / 1e6 : undefined,
    }) : undefined,
    memory: memory ? defined({
      total: memory.totalBytes, used: minus(memory.totalBytes, memory.availableBytes), available: memory.availableBytes,
      free: memory.freeBytes, usage_percent: memory.usagePct, cached: memory.cachedBytes, buffers: memory.buffersBytes,
      swap_total: memory.swapTotalBytes, swap_used: minus(memory.swapTotalBytes, memory.swapFreeBytes), swap_free: memory.swapFreeBytes,
      swap_percent: memory.swapUsagePct,
    }) : undefined,
    disks: node.disks?.map((disk) => defined({
      device: disk.device, mount_point: disk.mountPoint, fs_type: disk.fsType, total: disk.totalBytes,
      used: minus(disk.totalBytes, disk.availBytes), available: disk.availBytes, usage_percent: disk.usagePct,
      read_rate: disk.readBytesPerSec, write_rate: disk.writeBytesPerSec, read_iops: disk.readIOPS, write_iops: disk.writeIOPS,
      io_util: disk.ioUtilPct,
    })),
    networks: node.networks?.map((nic) => defined({
      interface: nic.interface,
      status: typeof nic.up === 'boolean' ? (nic.up ? 'up' : 'down') : undefined,
      // model_v3 gives the link speed in bytes/s (node_network_speed_bytes); NodeMetricsSnapshot in Mbit/s.
      speed: has(nic.speedBps) ? (nic.speedBps * 8) / 1e6 : undefined,
      mtu: nic.mtu, rx_rate: nic.rxBytesPerSec, tx_rate: nic.txBytesPerSec,
      rx_packets_ps: nic.rxPktPerSec, tx_packets_ps: nic.txPktPerSec, rx_errors_ps: nic.rxErrPerSec, tx_errors_ps: nic.txErrPerSec,
      rx_dropped_ps: nic.rxDropPerSec, tx_dropped_ps: nic.txDropPerSec,
    })),
    temperature: temperature ? defined({
      cpu_temp: temperature.cpuTempC, cpu_temp_max: temperature.cpuMaxC, cpu_temp_critical: temperature.cpuCritC,
      sensors: temperature.sensors?.map((sensor) => defined({
        name: sensor.chip, label: sensor.sensor, current: sensor.currentC, max: sensor.maxC, critical: sensor.critC,
      })),
    }) : undefined,
    psi: psi ? defined({
      cpu_some_percent: psi.cpuSomePct, memory_some_percent: psi.memSomePct, memory_full_percent: psi.memFullPct,
      io_some_percent: psi.ioSomePct, io_full_percent: psi.ioFullPct,
    }) : undefined,
    tcp: tcp ? defined({ curr_estab: tcp.currEstab, alloc: tcp.alloc, in_use: tcp.inUse, time_wait: tcp.timeWait, sockets_used: tcp.socketsUsed }) : undefined,
    system: system ? defined({
      conntrack_entries: system.conntrackEntries, conntrack_limit: system.conntrackLimit, filefd_allocated: system.filefdAllocated,
      filefd_maximum: system.filefdMax, entropy_available: system.entropyBits,
    }) : undefined,
    vmstat: vmstat ? defined({
      pgfault_ps: vmstat.pgFaultPerSec, pgmajfault_ps: vmstat.pgMajFaultPerSec, pswpin_ps: vmstat.pswpInPerSec, pswpout_ps: vmstat.pswpOutPerSec,
    }) : undefined,
    softnet: softnet ? defined({ dropped_ps: softnet.droppedPerSec, squeezed_ps: softnet.squeezedPerSec }) : undefined,
  } as Record<string, unknown>) as NodeMetricsSnapshot
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
