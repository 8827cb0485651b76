import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { NodeMetricsSnapshot } from './node-metrics'
import { FIGURES, type FigureField } from './figures'
import { numberOrNull, stringOrNull } from './scalars'

/** Fleet figures over a cluster's latest node metrics (docs/design.md §5). */
export const ClusterSummary = t.Object({
  metrics_nodes: Type.Integer({ description: 'nodes with metrics' }),
  online_nodes: Type.Integer({ description: 'nodes whose newest snapshot is recent (see node_status)' }),
  stale_nodes: Type.Integer({ description: 'nodes without a snapshot for longer than STALE_AFTER' }),
  avg_cpu: numberOrNull('mean CPU usage over online nodes reporting it, % (null: none does)'),
  avg_memory: numberOrNull('mean memory usage over online nodes reporting it, % (null: none does)'),
  max_temp: numberOrNull('hottest CPU temperature, °C (null: no node reports one)'),
  max_temp_node: stringOrNull(),
  max_disk: numberOrNull('fullest disk of any node, % (null: no node reports a disk)'),
  max_disk_node: stringOrNull(),
  max_disk_mount: stringOrNull(),
  warning_nodes: Type.Integer({ description: 'nodes with CPU ≥ 80 %, memory ≥ 80 % or CPU temperature ≥ 75 °C' }),
  total_cores: Type.Integer(),
  total_mem_bytes: t.Number({ description: 'sum over the nodes reporting both total and used memory' }),
  used_mem_bytes: t.Number({ description: 'sum over the same nodes as total_mem_bytes' }),
})
export type ClusterSummary = Static<typeof ClusterSummary>

export const NodeStatus = t.Union([t.Literal('online'), t.Literal('stale')], {
  description: 'stale: no snapshot for longer than STALE_AFTER (default 3 × the agent interval, at least 15 s)',
})

/** A node's derived figures: what its summary, history and /metrics count, after the accept policy. */
export const NodeFigures = t.Object({
  ...Object.fromEntries(FIGURES.map((figure) => [figure.field, numberOrNull(`${figure.description} (null: not reported, or dropped)`)])),
  disk_max: numberOrNull('the fullest disk, %'),
}) as unknown as ReturnType<typeof t.Object<Record<FigureField | 'disk_max', ReturnType<typeof numberOrNull>>>>

export const ClusterNodeMetrics = t.Object({
  summary: ClusterSummary,
  node_status: t.Record(t.String(), NodeStatus, { description: 'node name → online or stale' }),
  node_figures: t.Record(t.String(), NodeFigures, {
    description: 'node name → its figures as the master derived them (physical interfaces only, values out of range left out)',
  }),
  nodes: t.Record(t.String(), NodeMetricsSnapshot, { description: 'node name → latest snapshot' }),
})

export const ClusterInfo = t.Object({
  cluster_id: t.String(),
  agent: t.Union([t.Literal('online'), t.Literal('offline')], {
    description: 'online: a snapshot or heartbeat within AGENT_EXPIRE (default 45 s)',
  }),
  last_snapshot_at: t.Union([Type.Integer(), t.Null()], { description: 'when the newest snapshot arrived, epoch ms (null: none since start)' }),
  last_heartbeat_at: t.Union([Type.Integer(), t.Null()], { description: 'when the last heartbeat arrived, epoch ms' }),
  nodes: Type.Integer({ description: 'nodes in the latest table' }),
  online_nodes: Type.Integer(),
  stale_nodes: Type.Integer(),
  stale_after_ms: Type.Integer({ description: 'the threshold in force for this cluster' }),
})

export const ClusterList = t.Object({ clusters: t.Array(ClusterInfo, { description: 'by cluster id' }) })
export type ClusterList = Static<typeof ClusterList>
