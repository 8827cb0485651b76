import type { NodeMetricsSnapshot } from '../model'
import type { Host } from './host'
import {
  parseCpuinfo, parseDiskstats, parseLoadavg, parseMeminfo, parseMounts, parseNetDev, parsePressure, parseProcessStat, parseStat,
  type CpuTimes, type DiskCounters, type NicCounters, type ProcessStat,
} from './procfs'
import { percentOf, rate } from './rates'

type Disk = NonNullable<NodeMetricsSnapshot['disks']>[number]
type Nic = NonNullable<NodeMetricsSnapshot['networks']>[number]
type Sensor = NonNullable<NonNullable<NodeMetricsSnapshot['temperature']>['sensors']>[number]
type Process = NonNullable<NodeMetricsSnapshot['processes']>[number]

const SECTOR_BYTES = 512
const PAGE_BYTES = 4096
const TOP_PROCESSES = 10
const CPU_SENSORS = /^(coretemp|k10temp|zenpower|cpu_thermal|cpu-thermal|soc_thermal|x86_pkg_temp|acpitz)$/

interface Sample {
  at: number
  cpu: { total: CpuTimes; cores: CpuTimes[] }
  disks: Map<string, DiskCounters>
  nics: Map<string, NicCounters>
  processes: Map<number, ProcessStat>
}

/**
 * Reads one node's metrics from /proc and /sys. Rates need two samples: the first collect
 * reports none, and an interval in which a counter went backwards reports none for it.
 */
export class NodeCollector {
  private previous: Sample | undefined

  constructor(
    private readonly host: Host,
    private readonly nodeName: string,
    private readonly clockTicksPerSecond = 100,
  ) {}

  collect(now = Date.now()): NodeMetricsSnapshot {
    const sample: Sample = {
      at: now,
      cpu: parseStat(this.host.read('proc/stat') ?? ''),
      disks: parseDiskstats(this.host.read('proc/diskstats') ?? ''),
      nics: parseNetDev(this.host.read('proc/net/dev') ?? ''),
      processes: this.readProcesses(),
    }
    const previous = this.previous
    this.previous = sample
    const seconds = previous ? (now - previous.at) / 1000 : 0
    const memory = parseMeminfo(this.host.read('proc/meminfo') ?? '')
    const snapshot: NodeMetricsSnapshot = {
      node_name: this.nodeName,
      timestamp: now,
      ...this.identity(),
      cpu: this.cpu(sample, previous),
      memory: memoryGroup(memory),
      disks: this.disks(sample, previous, seconds),
      networks: this.networks(sample, previous, seconds),
      temperature: this.temperature(),
      processes: this.processes(sample, previous, seconds, memory.MemTotal),
      psi: this.pressure(),
    }
    return JSON.parse(JSON.stringify(snapshot)) // drops the undefined fields
  }

  private identity() {
    const osRelease = this.host.read('etc/os-release') ?? ''
    const uptime = Number((this.host.read('proc/uptime') ?? '').split(' ')[0])
    return {
      hostname: this.host.read('proc/sys/kernel/hostname')?.trim(),
      os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1],
      kernel: this.host.read('proc/sys/kernel/osrelease')?.trim(),
      uptime: Number.isFinite(uptime) ? uptime : undefined,
    }
  }

  private cpu(sample: Sample, previous: Sample | undefined): NodeMetricsSnapshot['cpu'] {
    const info = parseCpuinfo(this.host.read('proc/cpuinfo') ?? '')
    const load = parseLoadavg(this.host.read('proc/loadavg') ?? '')
    const total = previous ? cpuPercents(previous.cpu.total, sample.cpu.total) : undefined
    const perCore = previous && previous.cpu.cores.length === sample.cpu.cores.length
      ? sample.cpu.cores.map((core, index) => cpuPercents(previous.cpu.cores[index]!, core)?.usage_percent)
      : []
    return {
      ...total,
      per_core: perCore.every((value) => value !== undefined) && perCore.length > 0 ? (perCore as number[]) : undefined,
      ...load,
      model: info.model,
      cores: info.cores,
      threads: info.threads,
      frequency: info.frequency,
    }
  }

  private disks(sample: Sample, previous: Sample | undefined, seconds: number): Disk[] {
    return parseMounts(this.host.read('proc/mounts') ?? '').flatMap((mount) => {
      const space = this.host.statfs(mount.mount_point)
      if (!space || space.total === 0) return []
      const used = space.total - space.free
      const name = mount.device.replace(/^\/dev\//, '')
      const now = sample.disks.get(name)
      const before = previous?.disks.get(name)
      const ioRate = (pick: (counters: DiskCounters) => number, scale = 1) =>
        now ? mapDefined(rate(before && pick(before), pick(now), seconds), (value) => value * scale) : undefined
      const ioMsPerSecond = ioRate((counters) => counters.ioMs)
      return [{
        ...mount,
        total: space.total,
        used,
        available: space.available,
        usage_percent: percentOf(used, used + space.available),
        read_bytes: now && now.readSectors * SECTOR_BYTES,
        write_bytes: now && now.writtenSectors * SECTOR_BYTES,
        read_rate: ioRate((counters) => counters.readSectors, SECTOR_BYTES),
        write_rate: ioRate((counters) => counters.writtenSectors, SECTOR_BYTES),
        read_iops: ioRate((counters) => counters.reads),
        write_iops: ioRate((counters) => counters.writes),
        io_util: mapDefined(ioMsPerSecond, (ms) => Math.min(100, ms / 10)),
      }]
    })
  }

  private networks(sample: Sample, previous: Sample | undefined, seconds: number): Nic[] {
    const addresses = this.host.addresses()
    return [...sample.nics].map(([name, now]) => {
      const before = previous?.nics.get(name)
      const sys = (file: string) => this.host.read(`sys/class/net/${name}/${file}`)?.trim()
      const speed = Number(sys('speed'))
      const mtu = Number(sys('mtu'))
      return {
        interface: name,
        ip_address: addresses.get(name),
        mac_address: sys('address'),
        status: sys('operstate'),
        // Backed by a device (a NIC, a virtio function) rather than software (lo, bridges, veths,
        // tunnels, bonds): the master sums these for the node's network rate.
        physical: this.host.exists(`sys/class/net/${name}/device`),
        speed: speed > 0 ? speed : undefined,
        mtu: mtu > 0 ? mtu : undefined,
        rx_bytes: now.rxBytes,
        tx_bytes: now.txBytes,
        rx_packets: now.rxPackets,
        tx_packets: now.txPackets,
        rx_rate: rate(before?.rxBytes, now.rxBytes, seconds),
        tx_rate: rate(before?.txBytes, now.txBytes, seconds),
        rx_errors: now.rxErrors,
        tx_errors: now.txErrors,
        rx_dropped: now.rxDropped,
        tx_dropped: now.txDropped,
      }
    })
  }

  private temperature(): NodeMetricsSnapshot['temperature'] {
    const sensors: (Sensor & { cpu: boolean })[] = []
    const celsius = (text: string | undefined) => (text === undefined || text.trim() === '' ? undefined : Number(text) / 1000)
    for (const hwmon of this.host.list('sys/class/hwmon')) {
      const dir = `sys/class/hwmon/${hwmon}`
      const name = this.host.read(`${dir}/name`)?.trim() ?? hwmon
      for (const file of this.host.list(dir).filter((entry) => /^temp\d+_input$/.test(entry)).sort()) {
        const prefix = `${dir}/${file.replace('_input', '')}`
        const current = celsius(this.host.read(`${prefix}_input`))
        if (current === undefined || !Number.isFinite(current)) continue
        sensors.push({
          name, label: this.host.read(`${prefix}_label`)?.trim(), current,
          max: celsius(this.host.read(`${prefix}_max`)), critical: celsius(this.host.read(`${prefix}_crit`)),
          cpu: CPU_SENSORS.test(name),
        })
      }
    }
    for (const zone of this.host.list('sys/class/thermal').filter((entry) => entry.startsWith('thermal_zone')).sort()) {
      const type = this.host.read(`sys/class/thermal/${zone}/type`)?.trim() ?? zone
      const current = celsius(this.host.read(`sys/class/thermal/${zone}/temp`))
      if (current !== undefined && Number.isFinite(current)) sensors.push({ name: type, label: zone, current, cpu: CPU_SENSORS.test(type) })
    }
    if (sensors.length === 0) return undefined
    const cpu = sensors.filter((sensor) => sensor.cpu)
    return {
      cpu_temp: cpu.length > 0 ? Math.max(...cpu.map((sensor) => sensor.current!)) : undefined,
      cpu_temp_max: cpu.map((sensor) => sensor.max).find((max) => max !== undefined),
      sensors: sensors.map(({ cpu: _cpu, ...sensor }) => sensor),
    }
  }

  private readProcesses(): Map<number, ProcessStat> {
    const processes = new Map<number, ProcessStat>()
    for (const entry of this.host.list('proc')) {
      if (!/^\d+$/.test(entry)) continue
      const text = this.host.read(`proc/${entry}/stat`)
      if (!text) continue // the process ended between listing and reading
      const stat = parseProcessStat(text)
      if (Number.isFinite(stat.cpuTicks)) processes.set(stat.pid, stat)
    }
    return processes
  }

  private processes(sample: Sample, previous: Sample | undefined, seconds: number, memTotal: number | undefined): Process[] {
    const bootSeconds = Number(/^btime (\d+)$/m.exec(this.host.read('proc/stat') ?? '')?.[1])
    const users = passwdNames(this.host.read('etc/passwd') ?? '')
    const busy = [...sample.processes.values()].map((stat) => {
      const before = previous?.processes.get(stat.pid)
      const sameProcess = before && before.startTicks === stat.startTicks
      const ticksPerSecond = sameProcess ? rate(before.cpuTicks, stat.cpuTicks, seconds) : undefined
      return { stat, cpu: ticksPerSecond === undefined ? undefined : (ticksPerSecond / this.clockTicksPerSecond) * 100 }
    })
    // With no previous sample there are no rates: rank by CPU time used so far instead.
    busy.sort((a, b) => (previous ? (b.cpu ?? -1) - (a.cpu ?? -1) : b.stat.cpuTicks - a.stat.cpuTicks))
    return busy.slice(0, TOP_PROCESSES).map(({ stat, cpu }) => {
      const rss = stat.rssPages * PAGE_BYTES
      const uid = /^Uid:\s+(\d+)/m.exec(this.host.read(`proc/${stat.pid}/status`) ?? '')?.[1]
      const cmdline = (this.host.read(`proc/${stat.pid}/cmdline`) ?? '').replace(/\0+$/, '').replace(/\0/g, ' ').slice(0, 8192)
      return {
        pid: stat.pid,
        name: stat.name,
        cmdline: cmdline || undefined,
        user: uid === undefined ? undefined : (users.get(uid) ?? uid),
        status: stat.state,
        cpu_percent: cpu,
        mem_percent: memTotal ? percentOf(rss, memTotal) : undefined,
        mem_rss: rss,
        threads: stat.threads,
        start_time: Number.isFinite(bootSeconds)
          ? new Date((bootSeconds + stat.startTicks / this.clockTicksPerSecond) * 1000).toISOString()
          : undefined,
      }
    })
  }

  private pressure(): NodeMetricsSnapshot['psi'] {
    const psi: Record<string, Record<string, number>> = {}
    for (const resource of ['cpu', 'memory', 'io']) {
      const text = this.host.read(`proc/pressure/${resource}`)
      if (text) psi[resource] = parsePressure(text)
    }
    return Object.keys(psi).length > 0 ? psi : undefined
  }
}

function cpuPercents(before: CpuTimes, now: CpuTimes) {
  const keys = Object.keys(now) as (keyof CpuTimes)[]
  if (keys.some((key) => now[key] < before[key])) return undefined // counters reset
  const delta = (key: keyof CpuTimes) => now[key] - before[key]
  const total = keys.reduce((sum, key) => sum + delta(key), 0)
  if (total <= 0) return undefined
  const share = (ticks: number) => percentOf(ticks, total)!
  return {
    usage_percent: share(total - delta('idle') - delta('iowait')),
    user_percent: share(delta('user') + delta('nice')),
    system_percent: share(delta('system') + delta('irq') + delta('softirq')),
    idle_percent: share(delta('idle')),
    iowait_percent: share(delta('iowait')),
  }
}

function memoryGroup(m: Record<string, number>): NodeMetricsSnapshot['memory'] {
  const total = m.MemTotal
  if (total === undefined) return undefined
  const available = m.MemAvailable ?? m.MemFree ?? 0
  const swapTotal = m.SwapTotal ?? 0
  const swapFree = m.SwapFree ?? 0
  return {
    total,
    used: total - available,
    available,
    free: m.MemFree,
    usage_percent: percentOf(total - available, total),
    cached: m.Cached,
    buffers: m.Buffers,
    swap_total: swapTotal,
    swap_used: swapTotal - swapFree,
    swap_free: swapFree,
    swap_percent: swapTotal > 0 ? percentOf(swapTotal - swapFree, swapTotal) : 0,
  }
}

function passwdNames(text: string): Map<string, string> {
  const names = new Map<string, string>()
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':')
    if (name && uid) names.set(uid, name)
  }
  return names
}

const mapDefined = <T, U>(value: T | undefined, map: (value: T) => U): U | undefined => (value === undefined ? undefined : map(value))
