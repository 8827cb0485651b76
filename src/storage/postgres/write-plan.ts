import { FIGURES } from '../../model/figures'
import { encodeValues } from '../history-encoding'
import type { NodeRow } from '../node-rows'
import type { Tier } from '../tiers'
import { addSums, type Sum } from './sums'

/** A node as the batch's transaction found it, its identity row locked. */
export interface StoredNode {
  id: number
  /** its latest row's snapshot time; null: an identity without a latest row (new, or removed and back) */
  snapshotMs: number | null
}

/**
 * One bucket's share of a batch: what its snapshots add to the stored row. Per figure (registry
 * order) the sum, the samples that had the figure, and the peak, as scaled integers.
 */
export interface BucketShare {
  /** the share's place among the same bucket's shares: they go in statements one after another */
  round: number
  nodeId: number
  bucketS: number
  samples: number
  sums: (Sum | null)[]
  present: number[]
  peaks: (number | null)[]
}

export interface WritePlan {
  /** per row, whether it changed anything */
  written: boolean[]
  /** each changed node's newest row, with its receive time */
  latest: { id: number; row: NodeRow; receivedMs: number }[]
  /** per tier, the batch's points added up by (node, bucket), ascending: one statement each, in order (one, unless sample by sample) */
  history: Map<Tier, BucketShare[][]>
}

/** The key of a node's rows in a batch. */
export const nodeKey = (cluster: string, node: string) => `${cluster}\u0000${node}`

/** Whether a tier keeps a snapshot's bucket at all (MetricsWriter skips one already past retention). */
const kept = (tier: Tier, bucketS: number, now: number) => (bucketS + tier.intervalS) * 1000 > now - tier.retentionMs

const bucketOf = (tier: Tier, snapshotMs: number) => {
  const seconds = Math.floor(snapshotMs / 1000)
  return seconds - (seconds % tier.intervalS)
}

/** The buckets the batch may write, per tier: the partitions they need. */
export function bucketsOf(rows: readonly NodeRow[], tiers: readonly Tier[], now: number): Map<Tier, Set<number>> {
  const buckets = new Map(tiers.map((tier) => [tier, new Set<number>()]))
  for (const row of rows) {
    for (const tier of tiers) {
      const bucketS = bucketOf(tier, row.snapshotMs)
      if (kept(tier, bucketS, now)) buckets.get(tier)!.add(bucketS)
    }
  }
  return buckets
}

/**
 * What a batch does, decided as MetricsWriter decides it: rows in order, each counted only when
 * newer than its node's stored snapshot and than the batch's rows of the node before it (an
 * agent's retry, a re-sent quiet node, a late row change nothing); the newest row of a node is its
 * latest row. Snapshots of one (node, bucket) are added up here, as SQLite would have added them
 * one by one: PostgreSQL updates a row once per statement. `sampleBySample` leaves each its own
 * share, the n-th of a bucket for the n-th statement: for sums past 2^63, which only give SQLite's
 * numbers when added in SQLite's order (postgres/sums.ts).
 */
export function planWrite(
  rows: readonly NodeRow[],
  stored: ReadonlyMap<string, StoredNode>,
  tiers: readonly Tier[],
  now: number,
  sampleBySample = false,
): WritePlan {
  const newest = new Map<string, { id: number; row: NodeRow; receivedMs: number }>()
  const shares = new Map(tiers.map((tier) => [tier, new Map<string, BucketShare>()]))
  /** sample by sample: the shares each (node, bucket) has so far */
  const seen = new Map<string, number>()
  const written = rows.map((row) => {
    const key = nodeKey(row.cluster, row.node)
    const node = stored.get(key)!
    const before = newest.get(key)?.row.snapshotMs ?? node.snapshotMs
    if (before !== null && row.snapshotMs <= before) return false
    newest.set(key, { id: node.id, row, receivedMs: row.receivedMs ?? now })
    const values = encodeValues(row.values)
    for (const tier of tiers) {
      const bucketS = bucketOf(tier, row.snapshotMs)
      if (!kept(tier, bucketS, now)) continue
      const byBucket = shares.get(tier)!
      const bucket = `${tier.name}:${node.id}:${bucketS}`
      const round = sampleBySample ? (seen.get(bucket) ?? 0) : 0
      if (sampleBySample) seen.set(bucket, round + 1)
      const at = `${bucket}:${round}`
      let share = byBucket.get(at)
      if (!share) {
        share = { round, nodeId: node.id, bucketS, samples: 0, sums: FIGURES.map(() => null), present: FIGURES.map(() => 0), peaks: FIGURES.map(() => null) }
        byBucket.set(at, share)
      }
      share.samples++
      for (let f = 0; f < FIGURES.length; f++) {
        const value = values[f]
        if (value === null || value === undefined) continue
        const sum = share.sums[f]!
        share.sums[f] = sum === null ? value : addSums(sum, value)
        share.present[f]!++
        const peak = share.peaks[f]!
        if (peak === null || value > peak) share.peaks[f] = value
      }
    }
    return true
  })
  const history = new Map(
    [...shares].map(([tier, byBucket]) => {
      const rounds: BucketShare[][] = []
      for (const share of byBucket.values()) (rounds[share.round] ??= []).push(share)
      return [tier, rounds.map((round) => round.sort((a, b) => a.nodeId - b.nodeId || a.bucketS - b.bucketS))] as const
    }),
  )
  return { written, latest: [...newest.values()], history }
}
