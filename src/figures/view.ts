import type { NodeView } from '../model/figures'
import type { NodeMetricsSnapshot } from '../model'
import { physicalNics } from './network'

/** What several figures of a node need, worked out once per snapshot. */
export function nodeView(node: NodeMetricsSnapshot, netExclude: RegExp): NodeView {
  const cpu = node.cpu
  const disks = node.disks ?? []
  const rootIndex = disks.findIndex((disk) => disk.mount_point === '/')
  const primaryIndex = rootIndex >= 0 ? rootIndex : disks.length > 0 ? 0 : -1
  return {
    node,
    // AtlHyper's first sample after a restart reports every CPU percentage as 0: a CPU is busy or idle.
    cpuMeasured: !!cpu && !(cpu.usage_percent === 0 && cpu.idle_percent === 0),
    memoryMeasured: !!node.memory && node.memory.total !== 0,
    primaryDisk: primaryIndex >= 0 ? { disk: disks[primaryIndex]!, index: primaryIndex } : undefined,
    nics: physicalNics(node.networks ?? [], netExclude),
  }
}
