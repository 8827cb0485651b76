import type { SQL } from 'bun'
import type { CleanupResult } from '../metrics-writer'
import type { TierSettings, Tier } from '../tiers'
import { LOCKS } from './locks'
import type { Partitions } from './partitions'

/**
 * How long the cleanup waits for a lock: dropping a partition waits for every transaction on its
 * tier and holds up those that come after it. Past this it gives up, changing nothing, and the next
 * cleanup tries again.
 */
const LOCK_TIMEOUT = '10s'

/**
 * The retention cleanup on PostgreSQL (MetricsWriter.cleanup's rules), in one transaction that one
 * master at a time runs (an advisory lock):
 * - nodes not received from for RETENTION (by the server clock, received_ms) leave the latest table
 *   with their raw history, their hourly history staying until RETENTION_HOURLY. Their identities
 *   are locked first, in the writers' order; one a writer holds is being written, so not gone.
 * - each tier's partitions whose buckets all passed its retention are dropped whole.
 * - identities with nothing left (no latest row, no point in any tier) are forgotten, but not one
 *   a writer holds: it is about to have something again.
 * Then the partitions of the current and next span are made, as at open.
 */
export async function cleanup(sql: SQL, partitions: Partitions, tiers: readonly Tier[], settings: TierSettings, now: number): Promise<CleanupResult> {
  const result = await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`)
    // Counting a large expired partition may take longer than an agent's write is allowed to.
    await tx.unsafe(`SET LOCAL statement_timeout = 0`)
    await tx`SELECT pg_advisory_xact_lock(${LOCKS.namespace}::int, ${LOCKS.cleanup}::int)`
    const cutoffMs = now - settings.retentionMs
    const candidates: { id: number }[] = await tx`SELECT id FROM node_metrics_latest WHERE received_ms < ${cutoffMs}::float8`
    let gone: { id: number; cluster_id: string; node_name: string }[] = []
    let rawDeleted = 0
    if (candidates.length > 0) {
      const locked: { id: number }[] = await tx`
        SELECT id FROM nodes WHERE id = ANY(${candidates.map((row) => row.id)}::int[])
         ORDER BY cluster_id, node_name FOR UPDATE SKIP LOCKED`
      gone = await tx`
        DELETE FROM node_metrics_latest WHERE id = ANY(${locked.map((row) => row.id)}::int[]) AND received_ms < ${cutoffMs}::float8
        RETURNING id, cluster_id, node_name`
      if (gone.length > 0) {
        const deleted = await tx.unsafe(`DELETE FROM ${tiers[0]!.table} WHERE node_id = ANY($1::int[])`, [gone.map((row) => row.id)])
        rawDeleted = deleted.count
      }
    }
    await partitions.refresh(tx)
    const points = {} as CleanupResult['points']
    const expired = tiers.map((tier) => partitions.expired(tier, Math.floor((now - tier.retentionMs) / 1000)))
    // Every count before the first drop: a drop locks its tier until the transaction ends, a count scans.
    for (const [index, tier] of tiers.entries()) points[tier.name] = await partitions.count(tx, expired[index]!)
    for (const dropping of expired) await partitions.drop(tx, dropping)
    points.raw += rawDeleted
    const noHistory = tiers.map((tier) => `AND NOT EXISTS (SELECT 1 FROM ${tier.table} h WHERE h.node_id = n.id)`).join(' ')
    const forgotten: { id: number }[] = await tx.unsafe(
      `SELECT n.id FROM nodes n WHERE NOT EXISTS (SELECT 1 FROM node_metrics_latest l WHERE l.id = n.id) ${noHistory}
        ORDER BY n.cluster_id, n.node_name FOR UPDATE OF n SKIP LOCKED`,
    )
    // Again, in a statement of its own: it sees what the writers it skipped past committed.
    if (forgotten.length > 0) {
      await tx.unsafe(
        `DELETE FROM nodes n WHERE n.id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM node_metrics_latest l WHERE l.id = n.id) ${noHistory}`,
        [forgotten.map((row) => row.id)],
      )
    }
    gone.sort((a, b) => a.id - b.id)
    return { points, nodes: gone.length, removed: gone.map((node) => ({ cluster: node.cluster_id, node: node.node_name })) }
  })
  await partitions.refresh()
  await partitions.ahead(now)
  return result
}
