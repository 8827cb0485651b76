import { FIGURES, PERCENT, type Input, type LATEST_EXTRAS } from '../model/figures'
import type { NodeMetricsSnapshot } from '../model'
import { nodeView } from './view'

/** A value left out of the derived figures of one sample, and why. */
export interface Drop {
  /** JSON path under the node, e.g. /networks/0/rx_rate */
  path: string
  /** the path without indexes (the Prometheus label): networks.rx_rate */
  field: string
  reason: string
}

/** Latest-table figures the summary needs besides the registry's (model/figures.ts LATEST_EXTRAS): not kept as history. */
export interface LatestExtras extends Record<(typeof LATEST_EXTRAS)[number]['key'], number | string | null> {
  cores: number | null
  memTotal: number | null
  memUsed: number | null
  /** the fullest measured disk, with its mount */
  diskMax: number | null
  diskMaxMount: string | null
  /** the primary disk's size and use (AtlHyper's summary sums them) */
  diskTotal: number | null
  diskUsed: number | null
}

export interface DerivedFigures {
  /** one value per registry figure, in FIGURES order; null: not reported, or dropped */
  values: (number | null)[]
  extras: LatestExtras
  dropped: Drop[]
}

export interface DeriveSettings {
  /** interfaces left out of the node network rate (NET_EXCLUDE) */
  netExclude: RegExp
}

type Bounds = { min: number; max: number; above: string; integer?: boolean }
const BYTES: Bounds = { min: 0, max: 2 ** 64, above: 'out_of_range' }
const CORES: Bounds = { min: 1, max: 65_536, above: 'out_of_range', integer: true }

/**
 * The figures of one node's snapshot. Values never refuse a snapshot: one outside its physical
 * range is left out of this sample's figures and reported as dropped, and a figure made of
 * several values (a sum over interfaces) is left out whole when any of them is — a partial sum
 * would read as a true figure. Zeros that are Go's "nothing was read" read as missing.
 */
export function deriveFigures(node: NodeMetricsSnapshot, settings: DeriveSettings): DerivedFigures {
  const view = nodeView(node, settings.netExclude)
  let dropped: Map<string, Drop> | undefined
  const accept = (input: Input, bounds: Bounds): number | null => {
    const reason = problem(input, bounds)
    if (reason === undefined) return input.value as number
    ;(dropped ??= new Map()).set(input.path, { path: input.path, field: input.field, reason })
    return null
  }
  const values = FIGURES.map((figure) => {
    const inputs = figure.inputs(view)
    if (inputs.length === 0) return null
    let total = 0
    let complete = true
    for (const input of inputs) {
      const value = input.value === undefined || input.value === null ? null : accept(input, figure.bounds)
      if (value === null) complete = false
      else total += value
    }
    return complete ? total : null
  })

  const memory = view.memoryMeasured ? node.memory : undefined
  const primary = view.primaryDisk && view.primaryDisk.disk.total !== 0 ? view.primaryDisk : undefined
  let fullest: { usage: number; mount: string } | undefined
  const disks = node.disks ?? []
  for (let index = 0; index < disks.length; index++) {
    const disk = disks[index]!
    if (disk.total === 0 || disk.usage_percent === undefined || disk.usage_percent === null) continue
    const usage = accept({ value: disk.usage_percent, path: `/disks/${index}/usage_percent`, field: 'disks.usage_percent' }, PERCENT)
    if (usage !== null && usage > (fullest?.usage ?? -1)) fullest = { usage, mount: disk.mount_point ?? '' }
  }
  const optional = (value: unknown, path: string, field: string, bounds: Bounds) =>
    value === undefined || value === null ? null : accept({ value, path, field }, bounds)
  const cores = node.cpu?.cores
  const extras: LatestExtras = {
    // 0 cores is AtlHyper's first sample (cpuinfo not read yet), not a machine.
    cores: cores === 0 ? null : optional(cores, '/cpu/cores', 'cpu.cores', CORES),
    memTotal: optional(memory?.total, '/memory/total', 'memory.total', BYTES),
    memUsed: optional(memory?.used, '/memory/used', 'memory.used', BYTES),
    diskMax: fullest?.usage ?? null,
    diskMaxMount: fullest?.mount ?? null,
    diskTotal: primary ? optional(primary.disk.total, `/disks/${primary.index}/total`, 'disks.total', BYTES) : null,
    diskUsed: primary ? optional(primary.disk.used, `/disks/${primary.index}/used`, 'disks.used', BYTES) : null,
  }
  return { values, extras, dropped: dropped ? [...dropped.values()] : [] }
}

function problem(input: Input, bounds: Bounds): string | undefined {
  const value = input.value
  if (typeof value !== 'number') return 'not_a_number'
  if (!Number.isFinite(value)) return 'not_finite'
  if (value < bounds.min) return bounds.min === 0 ? 'negative' : 'out_of_range'
  if (input.max && value > input.max.value) return input.max.reason
  if (value > bounds.max) return bounds.above
  if (bounds.integer && !Number.isInteger(value)) return 'not_an_integer'
  return undefined
}
