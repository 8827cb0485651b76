import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { NodeMetricsSnapshot } from './node-metrics'

/** Fleet figures over a cluster's latest node metrics (DESIGN §5). */
export const ClusterSummary = t.Object({
  metrics_nodes: Type.Integer({ description: 'nodes with metrics' }),
  avg_cpu: t.Number({ description: 'mean CPU usage over nodes reporting it, %' }),
  avg_memory: t.Number({ description: 'mean memory usage over nodes reporting it, %' }),
  max_temp: t.Number({ description: 'hottest CPU temperature, °C' }),
  max_temp_node: t.String(),
  max_disk: t.Number({ description: 'fullest disk of any node, %' }),
  max_disk_node: t.String(),
  max_disk_mount: t.String(),
  warning_nodes: Type.Integer({ description: 'nodes with CPU ≥ 80 %, memory ≥ 80 % or CPU temperature ≥ 75 °C' }),
  total_cores: Type.Integer(),
  total_mem_bytes: t.Number(),
  used_mem_bytes: t.Number(),
})
export type ClusterSummary = Static<typeof ClusterSummary>

export const ClusterNodeMetrics = t.Object({
  summary: ClusterSummary,
  nodes: t.Record(t.String(), NodeMetricsSnapshot, { description: 'node name → latest snapshot' }),
})
