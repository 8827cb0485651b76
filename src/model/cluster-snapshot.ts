import { t, type Static } from 'elysia'
import { Name, NodeMetricsSnapshot, Timestamp } from './node-metrics'
import { maybe } from './scalars'
import { NodeMetricsV3 } from './v3'

/**
 * The envelope an agent posts every few seconds, as documented for agents (ingest/snapshot.ts
 * checks it): the fields the master reads; everything else (pods, deployments, …) is kept in the
 * DataHub as it came.
 */
export const ClusterSnapshot = t.Object(
  {
    cluster_id: t.Optional(Name),
    fetched_at: maybe(Timestamp),
    node_metrics: maybe(
      t.Record(Name, NodeMetricsSnapshot, {
        description: 'node name → NodeMetricsSnapshot (at most 10,000 nodes); each is stored as the bytes the agent sent',
        maxProperties: 10_000,
      }),
    ),
  },
  { additionalProperties: true, description: "AtlHyper's model_v2 ClusterSnapshot" },
)
export type ClusterSnapshot = Static<typeof ClusterSnapshot>

/** AtlHyper's current agent: camelCase, node metrics under otel.metricsNodes, each mapped onto a NodeMetricsSnapshot. */
export const ClusterSnapshotV3 = t.Object(
  {
    clusterId: t.Optional(Name),
    fetchedAt: maybe(Timestamp),
    otel: maybe(t.Object({ metricsNodes: maybe(t.Array(NodeMetricsV3, { maxItems: 10_000 })) }, { additionalProperties: true })),
  },
  { additionalProperties: true, description: "AtlHyper's model_v3 ClusterSnapshot" },
)

/** What GET …/snapshot answers: the newest envelope exactly as its agent posted it, either model. */
export const EnvelopeBody = t.Union([ClusterSnapshot, ClusterSnapshotV3], {
  description: "the cluster's newest envelope exactly as its agent posted it (AtlHyper's model_v2 or model_v3)",
})
