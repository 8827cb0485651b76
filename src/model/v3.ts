import { t, type Static } from 'elysia'
import { Timestamp } from './node-metrics'
import { maybe, num, numberOrNull, str } from './scalars'

/**
 * AtlHyper's current agent (model_v3, camelCase) sends node metrics inside its cluster snapshot
 * as `otel.metricsNodes[]`. The master recognises such an envelope and maps each node onto a
 * NodeMetricsSnapshot (ingest/model-v3.ts). Structure only, as for model_v2; extra fields pass.
 */
const object = <P extends Parameters<typeof t.Object>[0]>(properties: P) => t.Object(properties, { additionalProperties: true })
const list = <T extends Parameters<typeof t.Array>[0]>(item: T, maxItems: number) => maybe(t.Array(item, { maxItems }))

export const NodeMetricsV3 = object({
  nodeName: t.String(),
  nodeIP: str(),
  timestamp: Timestamp,
  cpu: maybe(object({
    usagePct: num(), userPct: num(), systemPct: num(), iowaitPct: num(), load1: num(), load5: num(), load15: num(), cores: num(),
    freqHz: list(numberOrNull(), 4096),
  })),
  memory: maybe(object({
    totalBytes: num(), availableBytes: num(), freeBytes: num(), cachedBytes: num(), buffersBytes: num(), usagePct: num(),
    swapTotalBytes: num(), swapFreeBytes: num(), swapUsagePct: num(),
  })),
  disks: list(object({
    device: str(), mountPoint: str(), fsType: str(), totalBytes: num(), availBytes: num(), usagePct: num(), readBytesPerSec: num(),
    writeBytesPerSec: num(), readIOPS: num(), writeIOPS: num(), ioUtilPct: num(),
  }), 1024),
  networks: list(object({
    interface: str(), up: maybe(t.Boolean()), speedBps: num('bytes/s'), mtu: num(), rxBytesPerSec: num(), txBytesPerSec: num(),
    rxPktPerSec: num(), txPktPerSec: num(), rxErrPerSec: num(), txErrPerSec: num(), rxDropPerSec: num(), txDropPerSec: num(),
  }), 1024),
  temperature: maybe(object({
    cpuTempC: num(), cpuMaxC: num(), cpuCritC: num(),
    sensors: list(object({ chip: str(), sensor: str(), currentC: num(), maxC: num(), critC: num() }), 1024),
  })),
  psi: maybe(object({ cpuSomePct: num(), memSomePct: num(), memFullPct: num(), ioSomePct: num(), ioFullPct: num() })),
  tcp: maybe(object({ currEstab: num(), alloc: num(), inUse: num(), timeWait: num(), socketsUsed: num() })),
  system: maybe(object({ conntrackEntries: num(), conntrackLimit: num(), filefdAllocated: num(), filefdMax: num(), entropyBits: num() })),
  vmstat: maybe(object({ pgFaultPerSec: num(), pgMajFaultPerSec: num(), pswpInPerSec: num(), pswpOutPerSec: num() })),
  softnet: maybe(object({ droppedPerSec: num(), squeezedPerSec: num() })),
  kernel: str(),
  uptime: num(),
})
export type NodeMetricsV3 = Static<typeof NodeMetricsV3>
