import type { NodeView } from '../model/figures'
import type { NodeMetricsSnapshot } from '../model'
import { physicalNics } from './network'

type Cpu = NonNullable<NodeMetricsSnapshot['cpu']>
type Disk = NonNullable<NodeMetricsSnapshot['disks']>[number]

/** What several figures of a node need, worked out once per snapshot. */
export function nodeView(node: NodeMetricsSnapshot, netExclude: RegExp): NodeView {
  const disks = node.disks ?? []
  const rootIndex = disks.findIndex((disk) => disk.mount_point === '/')
  const primaryIndex = rootIndex >= 0 ? rootIndex : disks.length > 0 ? 0 : -1
  const ioIndex = primaryIndex >= 0 ? ioSourceOf(disks, primaryIndex) : -1
  return {
    node,
    cpuMeasured: !!node.cpu && cpuMeasured(node.cpu),
    memoryMeasured: !!node.memory && node.memory.total !== 0,
    primaryDisk: primaryIndex >= 0 ? { disk: disks[primaryIndex]!, index: primaryIndex } : undefined,
    primaryIo: ioIndex >= 0 ? { disk: disks[ioIndex]!, index: ioIndex } : undefined,
    nics: physicalNics(node.networks ?? [], netExclude),
  }
}

const CPU_PERCENTS = ['user_percent', 'system_percent', 'idle_percent', 'iowait_percent'] as const

/**
 * A CPU is busy or idle: usage 0 with every other percentage the agent sent also 0 is a CPU that
 * was not measured — AtlHyper's first sample after a restart (idle 0 too), or model_v3 when its
 * query had no second sample. A bare usage of 0 is a measured idle CPU.
 */
function cpuMeasured(cpu: Cpu): boolean {
  if (cpu.usage_percent !== 0) return true
  const others = CPU_PERCENTS.map((name) => cpu[name]).filter((value) => typeof value === 'number')
  return others.length === 0 || others.some((value) => value !== 0)
}

/** The whole block device a file system is on: /dev/sda2 → sda, /dev/nvme0n1p2 → nvme0n1, mmcblk0p1 → mmcblk0. */
export function blockDevice(device: string | null | undefined): string {
  const name = (device ?? '').replace(/^\/dev\//, '')
  return /^((?:nvme\d+n\d+|mmcblk\d+|loop\d+))p\d+$/.exec(name)?.[1] ?? /^((?:s|v|xv|h)d[a-z]+)\d+$/.exec(name)?.[1] ?? name
}

const carriesIo = (disk: Disk) => [disk.read_rate, disk.write_rate, disk.read_bytes, disk.write_bytes].some((value) => typeof value === 'number' && value > 0)

/**
 * Where the primary disk's I/O is reported. AtlHyper's /proc agent puts each partition's own I/O
 * on its entry; its node_exporter-fed agent puts the whole disk's I/O on the disk's first
 * partition; model_v3 on an entry of its own (device "sda", no mount). When the primary entry
 * carries no I/O at all (not even counters since boot), the I/O of its block device is taken from
 * the entry that has it; without one, the primary entry's own (zero) rates stand.
 */
function ioSourceOf(disks: readonly Disk[], primaryIndex: number): number {
  const primary = disks[primaryIndex]!
  if (carriesIo(primary)) return primaryIndex
  const device = blockDevice(primary.device)
  if (!device) return primaryIndex
  const own = disks.findIndex((disk, index) => index !== primaryIndex && (disk.device ?? '').replace(/^\/dev\//, '') === device && carriesIo(disk))
  if (own >= 0) return own
  const sibling = disks.findIndex((disk, index) => index !== primaryIndex && blockDevice(disk.device) === device && carriesIo(disk))
  return sibling >= 0 ? sibling : primaryIndex
}
