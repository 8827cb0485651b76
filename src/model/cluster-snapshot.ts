import { t, type Static } from 'elysia'
import { Name, NodeMetricsSnapshot, Timestamp } from './node-metrics'

/**
 * The envelope an agent posts every few seconds. Only the fields the master reads are
 * validated; everything else (pods, deployments, …) is kept in the DataHub as it came.
 */
export const ClusterSnapshot = t.Object(
  {
    cluster_id: t.Optional(Name),
    fetched_at: t.Optional(Timestamp),
    node_metrics: t.Optional(
      t.Record(Name, NodeMetricsSnapshot, {
        description: 'node name → NodeMetricsSnapshot (at most 10,000 nodes)',
        maxProperties: 10_000,
        // Without it a key that misses the name pattern would skip validation altogether.
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: true },
)

export type ClusterSnapshot = Static<typeof ClusterSnapshot>
