import type { NodeMetricsSnapshot } from '../model'

/**
 * The figures the master reads out of a node's snapshot: the summary columns of the latest
 * table and the history point. Missing groups give null so averages skip the node rather than
 * counting it as idle.
 */
export interface NodeFigures {
  cpu: number | null
  mem: number | null
  temp: number | null
  cores: number | null
  memTotal: number | null
  memUsed: number | null
  /** fullest disk of the node, with its mount */
  diskMax: number | null
  diskMaxMount: string | null
  /** the `/` mount, else the first disk */
  diskPrimary: number | null
  /** bytes/s summed over interfaces that are up and not loopback */
  netRx: number | null
  netTx: number | null
}

const LOOPBACK = /^lo\d*$/

/** An interface with no status is counted: an agent that omits it should not read as silent. */
const countsIntoNetworkRate = (nic: NonNullable<NodeMetricsSnapshot['networks']>[number]) =>
  !LOOPBACK.test(nic.interface ?? '') && (nic.status === undefined || nic.status.toLowerCase() === 'up')

export function deriveFigures(snapshot: NodeMetricsSnapshot): NodeFigures {
  const disks = snapshot.disks ?? []
  const fullest = disks.reduce<(typeof disks)[number] | undefined>(
    (best, disk) => (disk.usage_percent !== undefined && disk.usage_percent > (best?.usage_percent ?? -1) ? disk : best),
    undefined,
  )
  const primary = disks.find((disk) => disk.mount_point === '/') ?? disks[0]
  const nics = (snapshot.networks ?? []).filter(countsIntoNetworkRate)
  const sum = (pick: (nic: (typeof nics)[number]) => number | undefined) =>
    nics.length === 0 ? null : nics.reduce((total, nic) => total + (pick(nic) ?? 0), 0)
  return {
    cpu: snapshot.cpu?.usage_percent ?? null,
    mem: snapshot.memory?.usage_percent ?? null,
    temp: snapshot.temperature?.cpu_temp ?? null,
    cores: snapshot.cpu?.cores ?? null,
    memTotal: snapshot.memory?.total ?? null,
    memUsed: snapshot.memory?.used ?? null,
    diskMax: fullest?.usage_percent ?? null,
    diskMaxMount: fullest ? (fullest.mount_point ?? '') : null,
    diskPrimary: primary?.usage_percent ?? null,
    netRx: sum((nic) => nic.rx_rate),
    netTx: sum((nic) => nic.tx_rate),
  }
}

/** RFC 3339 or epoch milliseconds → epoch milliseconds (NaN when unreadable). */
export function timestampMs(value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value)
}
