/**
 * Parsers for the Linux files the agent reads. Pure functions of the file's text, so the tests
 * run them on copies of real files.
 */

export interface CpuTimes {
  user: number
  nice: number
  system: number
  idle: number
  iowait: number
  irq: number
  softirq: number
  steal: number
}

/** /proc/stat: the aggregate `cpu` line and one per core, in clock ticks. */
export function parseStat(text: string): { total: CpuTimes; cores: CpuTimes[] } {
  let total: CpuTimes | undefined
  const cores: CpuTimes[] = []
  for (const line of text.split('\n')) {
    const match = /^cpu(\d*)\s+(.*)$/.exec(line)
    if (!match) continue
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = match[2]!
      .trim()
      .split(/\s+/)
      .map(Number)
    const times = { user, nice, system, idle, iowait, irq, softirq, steal }
    if (match[1] === '') total = times
    else cores[Number(match[1])] = times
  }
  if (!total) throw new Error('/proc/stat has no cpu line')
  return { total, cores: cores.filter(Boolean) }
}

export function parseLoadavg(text: string): { load_1: number; load_5: number; load_15: number } {
  const [load_1 = 0, load_5 = 0, load_15 = 0] = text.trim().split(/\s+/).map(Number)
  return { load_1, load_5, load_15 }
}

/** /proc/cpuinfo: model, logical CPUs, physical cores (by physical id + core id) and mean MHz. */
export function parseCpuinfo(text: string): { model?: string; threads: number; cores: number; frequency?: number } {
  const blocks = text.split(/\n\s*\n/).filter((block) => /^processor\s*:/m.test(block))
  const field = (block: string, name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1]?.trim()
  const physical = new Set(blocks.map((block) => `${field(block, 'physical id') ?? 0}:${field(block, 'core id') ?? field(block, 'processor')}`))
  const mhz = blocks.map((block) => Number(field(block, 'cpu MHz'))).filter((value) => Number.isFinite(value) && value > 0)
  return {
    model: blocks.map((block) => field(block, 'model name') ?? field(block, 'Model')).find(Boolean),
    threads: blocks.length,
    cores: physical.size || blocks.length,
    frequency: mhz.length > 0 ? mhz.reduce((a, b) => a + b, 0) / mhz.length : undefined,
  }
}

/** /proc/meminfo in bytes. */
export function parseMeminfo(text: string): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?$/.exec(line.trim())
    if (match) values[match[1]!] = Number(match[2]) * (line.includes('kB') ? 1024 : 1)
  }
  return values
}

export interface Mount {
  device: string
  mount_point: string
  fs_type: string
}

const REAL_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'jfs', 'reiserfs'])

/** /proc/mounts: block-device file systems, each device once (bind mounts repeat it). */
export function parseMounts(text: string): Mount[] {
  const seen = new Set<string>()
  const mounts: Mount[] = []
  for (const line of text.split('\n')) {
    const [device, mountPoint, fsType] = line.split(' ')
    if (!device || !mountPoint || !fsType || !REAL_FILESYSTEMS.has(fsType) || seen.has(device)) continue
    seen.add(device)
    mounts.push({ device, mount_point: mountPoint.replace(/\\040/g, ' '), fs_type: fsType })
  }
  return mounts
}

export interface DiskCounters {
  reads: number
  readSectors: number
  writes: number
  writtenSectors: number
  /** milliseconds spent doing I/O */
  ioMs: number
}

/** /proc/diskstats by device name. */
export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const disks = new Map<string, DiskCounters>()
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/)
    if (parts.length < 14) continue
    const number = (index: number) => Number(parts[index])
    disks.set(parts[2]!, { reads: number(3), readSectors: number(5), writes: number(7), writtenSectors: number(9), ioMs: number(12) })
  }
  return disks
}

export interface NicCounters {
  rxBytes: number
  rxPackets: number
  rxErrors: number
  rxDropped: number
  txBytes: number
  txPackets: number
  txErrors: number
  txDropped: number
}

/** /proc/net/dev by interface. */
export function parseNetDev(text: string): Map<string, NicCounters> {
  const nics = new Map<string, NicCounters>()
  for (const line of text.split('\n')) {
    const match = /^\s*([^:\s]+):\s*(.*)$/.exec(line)
    if (!match) continue
    const v = match[2]!.trim().split(/\s+/).map(Number)
    nics.set(match[1]!, {
      rxBytes: v[0]!, rxPackets: v[1]!, rxErrors: v[2]!, rxDropped: v[3]!,
      txBytes: v[8]!, txPackets: v[9]!, txErrors: v[10]!, txDropped: v[11]!,
    })
  }
  return nics
}

/** /proc/pressure/<resource>: `some`/`full` averages, flattened to `some_avg10` … */
export function parsePressure(text: string): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [kind, ...pairs] = line.trim().split(/\s+/)
    if (kind !== 'some' && kind !== 'full') continue
    for (const pair of pairs) {
      const [key, value] = pair.split('=')
      if (key && value !== undefined && Number.isFinite(Number(value))) values[`${kind}_${key}`] = Number(value)
    }
  }
  return values
}

export interface ProcessStat {
  pid: number
  name: string
  state: string
  /** user + system clock ticks */
  cpuTicks: number
  threads: number
  /** clock ticks after boot */
  startTicks: number
  rssPages: number
}

/** /proc/[pid]/stat. The name is in parentheses and may itself contain spaces and parentheses. */
export function parseProcessStat(text: string): ProcessStat {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const rest = text.slice(close + 2).trim().split(/\s+/)
  // rest[0] is field 3 (state); fields are numbered from 1 in proc(5).
  const field = (number: number) => Number(rest[number - 3])
  return {
    pid: Number(text.slice(0, open).trim()),
    name: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    cpuTicks: field(14) + field(15),
    threads: field(20),
    startTicks: field(22),
    rssPages: field(24),
  }
}
