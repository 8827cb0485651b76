import type { Request, Workload } from '../workload'

/** How an array's elements are told apart, by the array's key. */
const ELEMENT_LABELS: Record<string, (element: Record<string, unknown>, index: number) => [string, string]> = {
  disks: (disk) => ['device', String(disk.device)],
  networks: (nic) => ['interface', String(nic.interface)],
  sensors: (sensor) => ['sensor', `${sensor.name} ${sensor.label}`],
  processes: (process) => ['process', String(process.name)],
  per_core: (_, index) => ['core', String(index)],
}

/**
 * A node snapshot as VictoriaMetrics' `/api/v1/import` takes it (JSON lines): every numeric leaf
 * of the node JSON is one series with one sample, named `node_` + its path
 * (`cpu.usage_percent` → `node_cpu_usage_percent`) and labelled `cluster` and `node`. An array's
 * elements are told apart by a label, as node_exporter does it, not by the metric name: disks by
 * `device`, interfaces by `interface`, sensors by `sensor`, processes by `process`, CPU cores by
 * `core` (any other array by its own key = the index). The node's `timestamp` is the samples'
 * time, not a series; strings and booleans are not samples.
 */
export function nodeLines(clusterId: string, node: Record<string, unknown>, ts: number): { text: string; samples: number } {
  const common = `"cluster":${JSON.stringify(clusterId)},"node":${JSON.stringify(String(node.node_name))}`
  const tail = `],"timestamps":[${ts}]}\n`
  let text = ''
  let samples = 0
  const walk = (value: unknown, name: string, key: string, labels: string) => {
    if (typeof value === 'number') {
      text += `{"metric":{"__name__":${JSON.stringify(name)},${common}${labels}},"values":[${value}${tail}`
      samples++
    } else if (Array.isArray(value)) {
      const label = ELEMENT_LABELS[key] ?? ((_, index) => [key, String(index)])
      value.forEach((element, index) => {
        const [labelName, labelValue] = label(element, index)
        walk(element, name, key, `${labels},${JSON.stringify(labelName)}:${JSON.stringify(labelValue)}`)
      })
    } else if (value !== null && typeof value === 'object') {
      for (const [childKey, child] of Object.entries(value)) {
        if (name === 'node' && childKey === 'timestamp') continue
        walk(child, `${name}_${childKey}`, childKey, labels)
      }
    }
  }
  walk(node, 'node', '', '')
  return { text, samples }
}

export interface ImportRequest extends Request {
  samples: number
}

/**
 * One round of the master's ingest bench (workload.ts `round`) as import requests: the same
 * clusters, the same node snapshots — parsed from the very JSON the master is sent, with the same
 * timestamp — one gzipped request per cluster snapshot, as the agent gzips its post.
 */
export function importRound(load: Workload, ts: number): ImportRequest[] {
  return load.clusters.map(({ clusterId, nodes }) => {
    let text = ''
    let samples = 0
    for (const node of nodes) {
      const lines = nodeLines(clusterId, JSON.parse(`${node.head}${ts}${node.tail}`), ts)
      text += lines.text
      samples += lines.samples
    }
    return { clusterId, nodes: nodes.length, samples, body: Bun.gzipSync(Buffer.from(text)) }
  })
}
