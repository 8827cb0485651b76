import type { SQL } from 'bun'
import { chunkStartOf } from '../chunks'
import type { Tier } from '../tiers'
import { LOCKS } from './locks'

/**
 * Pages of a partition are filled to this percentage by inserts: a bucket's row is updated with
 * every sample while the bucket is open (30 times at SAMPLE_INTERVAL 5m and agents every 10 s, 360
 * times an hour), and an update that finds room on its page stays there without a new entry in the
 * primary key (a HOT update). Measured on 1,000 nodes × 100 batches (bench, PostgreSQL 15): the
 * whole write ~15–20 % faster than at 100. The price: closed spans keep that room unused.
 */
const FILLFACTOR = 70

/** One partition of a history tier: buckets [fromS, toS). */
export interface Partition {
  name: string
  fromS: number
  toS: number
}

/**
 * The history tiers' partitions, by range of bucket time. A partition spans what a chunk spans in
 * the SQLite dialect (tiers.ts spanS: a day of the raw tier, a week of the hourly one) so retention
 * is the same rule in both: a span is kept whole until its end passes the tier's retention, then
 * dropped whole — no row by row delete, no vacuum after it.
 *
 * The writer creates them ahead (the current and the next span, at open and at every cleanup) and
 * on demand for a bucket no partition holds (a late or early snapshot). Creation is a table made on
 * its own and then attached: ATTACH takes a lock that lets writes and reads of the tier go on,
 * where CREATE TABLE … PARTITION OF would stop them. Masters creating at once take an advisory
 * lock and look again under it, so the second finds the partition there.
 */
export class Partitions {
  /** per tier table, ascending by fromS: what this master knows exists */
  private readonly known = new Map<string, Partition[]>()

  constructor(
    private readonly sql: SQL,
    private readonly tiers: readonly Tier[],
  ) {}

  /** Reads every tier's partitions from the catalog. */
  async refresh(db: SQL = this.sql): Promise<void> {
    const rows: { parent: string; name: string; bound: string }[] = await db`
      SELECT p.relname AS parent, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relnamespace = current_schema()::regnamespace AND p.relname IN ${db(this.tiers.map((tier) => tier.table))}`
    for (const tier of this.tiers) this.known.set(tier.table, [])
    for (const row of rows) {
      const range = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(row.bound)
      if (range) this.known.get(row.parent)!.push({ name: row.name, fromS: Number(range[1]), toS: Number(range[2]) })
    }
    for (const list of this.known.values()) list.sort((a, b) => a.fromS - b.fromS)
  }

  /** The tier's partitions as last read or made. */
  list(tier: Tier): readonly Partition[] {
    return this.known.get(tier.table) ?? []
  }

  /** Whether a partition this master knows holds the bucket. */
  covers(tier: Tier, bucketS: number): boolean {
    return this.list(tier).some((partition) => partition.fromS <= bucketS && bucketS < partition.toS)
  }

  /** Makes partitions for the buckets (per tier) no known partition holds. */
  async ensure(needed: ReadonlyMap<Tier, Iterable<number>>): Promise<void> {
    const missing = [...needed].map(([tier, buckets]) => [tier, [...buckets].filter((bucketS) => !this.covers(tier, bucketS))] as const)
    if (missing.every(([, buckets]) => buckets.length === 0)) return
    await this.create(missing).catch((error) => {
      // What was made in the transaction was not committed: known again from the catalog next time.
      this.known.clear()
      throw error
    })
    // What was made is known only once it committed.
    await this.refresh()
  }

  private create(missing: (readonly [Tier, number[]])[]): Promise<void> {
    return this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${LOCKS.namespace}::int, ${LOCKS.partitions}::int)`
      await this.refresh(tx)
      for (const [tier, buckets] of missing) {
        for (const bucketS of buckets) {
          if (this.covers(tier, bucketS)) continue
          const partition = this.spanOf(tier, bucketS)
          await tx.unsafe(`CREATE TABLE "${partition.name}" (LIKE ${tier.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = ${FILLFACTOR})`)
          await tx.unsafe(`ALTER TABLE ${tier.table} ATTACH PARTITION "${partition.name}" FOR VALUES FROM (${partition.fromS}) TO (${partition.toS})`)
          const list = this.known.get(tier.table)!
          list.push(partition)
          list.sort((a, b) => a.fromS - b.fromS)
        }
      }
    })
  }

  /** Partitions for the span `now` is in and the next one, of every tier. */
  ahead(now: number): Promise<void> {
    const nowS = Math.floor(now / 1000)
    return this.ensure(new Map(this.tiers.map((tier) => [tier, [nowS, nowS + tier.spanS]])))
  }

  /** A tier's partitions whose buckets all passed `cutoffS`: what retention drops whole. */
  expired(tier: Tier, cutoffS: number): Partition[] {
    return this.list(tier).filter((candidate) => candidate.toS <= cutoffS)
  }

  /** The points the partitions hold. */
  async count(tx: SQL, partitions: readonly Partition[]): Promise<number> {
    let points = 0
    for (const partition of partitions) points += (await tx.unsafe(`SELECT count(*)::float8 AS n FROM "${partition.name}"`))[0].n as number
    return points
  }

  /** Drops the partitions: from the first drop, their tier is locked (writes and reads wait) until the transaction ends. */
  async drop(tx: SQL, partitions: readonly Partition[]): Promise<void> {
    for (const partition of partitions) await tx.unsafe(`DROP TABLE "${partition.name}"`)
  }

  /**
   * The partition a bucket goes into: its span (as chunks.ts chunkStartOf), cut where it would
   * overlap partitions made under another SAMPLE_INTERVAL (whose raw spans may differ).
   */
  private spanOf(tier: Tier, bucketS: number): Partition {
    let fromS = chunkStartOf(tier, bucketS)
    let toS = fromS + tier.spanS
    for (const partition of this.list(tier)) {
      if (partition.toS <= bucketS) fromS = Math.max(fromS, partition.toS)
      else if (partition.fromS > bucketS) toS = Math.min(toS, partition.fromS)
    }
    return { name: `${tier.table}_${fromS < 0 ? `m${-fromS}` : fromS}`, fromS, toS }
  }
}
