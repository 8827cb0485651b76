import type { Database, Statement } from 'bun:sqlite'
import { mergeBuckets, noBuckets, type Buckets } from './buckets'
import { UncodableValue } from './chunk-codec'
import { appendRow, CHUNK_COLUMNS, chunkStartOf, decodeChunk, encodeChunk, ROW_COLUMNS, type ChunkRow } from './chunks'
import type { Tier } from './tiers'

/** One node's closed spans of one tier, still held as rows. */
export interface CompactionItem {
  tier: Tier
  nodeId: number
  /** rows with buckets before this (epoch s, a span start) are in closed spans */
  cutoffS: number
}

/** The start of the first span still open at `now`: one bucket after a span ends, it is closed. */
const closedBefore = (tier: Tier, now: number) => chunkStartOf(tier, Math.floor(now / 1000) - tier.intervalS)

interface TierStatements {
  tier: Tier
  pendingNodes: Statement<{ id: number }, [number]>
  closedRows: Statement<unknown[], [number, number]>
  chunk: Statement<ChunkRow, [number, number]>
  saveChunk: Statement<never, (number | Uint8Array | null)[]>
  deleteRows: Statement<never, [number, number, number]>
}

/**
 * Turns the closed spans of each tier's open rows into chunks, on the writer's connection. Each
 * node's spans are compacted in the transaction that deletes their rows, so a process killed at
 * any moment leaves every bucket counted exactly once: as a row or in a chunk. A bucket that
 * arrives for a span already compacted (a late snapshot) is a row until the next pass merges it in.
 */
export class Compactor {
  private readonly tiers: TierStatements[]
  private warned = false
  /** Called between a chunk's save and its rows' delete, inside the transaction (the kill -9 test stops there). */
  afterChunkSaved?: () => void

  constructor(private readonly db: Database, tiers: readonly Tier[]) {
    this.tiers = tiers.map((tier) => ({
      tier,
      // Through `nodes`, one primary-key seek per node rather than a scan of the open rows.
      pendingNodes: db.query(
        `SELECT id FROM nodes WHERE EXISTS (SELECT 1 FROM ${tier.table} WHERE node_id = nodes.id AND bucket_s < ?1) ORDER BY id`,
      ),
      closedRows: db.query(`SELECT ${ROW_COLUMNS} FROM ${tier.table} WHERE node_id = ?1 AND bucket_s < ?2 ORDER BY bucket_s`),
      chunk: db.query(`SELECT * FROM ${tier.chunkTable} WHERE node_id = ?1 AND start_s = ?2`),
      saveChunk: db.query(
        `INSERT OR REPLACE INTO ${tier.chunkTable} (${CHUNK_COLUMNS.join(', ')}) VALUES (${CHUNK_COLUMNS.map(() => '?').join(', ')})`,
      ),
      deleteRows: db.query(`DELETE FROM ${tier.table} WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3`),
    }))
  }

  /** What is left to compact as of `now`: spans that ended at least one bucket ago. */
  pending(now: number): CompactionItem[] {
    const items: CompactionItem[] = []
    for (const { tier, pendingNodes } of this.tiers) {
      const cutoffS = closedBefore(tier, now)
      for (const { id } of pendingNodes.all(cutoffS)) items.push({ tier, nodeId: id, cutoffS })
    }
    return items
  }

  /** One node's closed spans of every tier as of `now` (the bench's pre-fill compacts node by node). */
  itemsFor(nodeId: number, now: number): CompactionItem[] {
    return this.tiers.map(({ tier }) => ({ tier, nodeId, cutoffS: closedBefore(tier, now) }))
  }

  /** Compacts the items in one transaction; adds the rows that became chunk points to `points`, by tier. */
  compact(items: readonly CompactionItem[], points: Record<string, number> = {}): Record<string, number> {
    this.db.transaction(() => {
      for (const item of items) points[item.tier.name] = (points[item.tier.name] ?? 0) + this.compactNode(item)
    })()
    return points
  }

  /** Everything pending as of `now`, in transactions of `perTransaction` nodes (tests, the bench's pre-fill). */
  compactAll(now: number, perTransaction = 64): Record<string, number> {
    const items = this.pending(now)
    const points: Record<string, number> = {}
    for (let i = 0; i < items.length; i += perTransaction) this.compact(items.slice(i, i + perTransaction), points)
    return points
  }

  private compactNode({ tier, nodeId, cutoffS }: CompactionItem): number {
    const statements = this.tiers.find((candidate) => candidate.tier === tier)!
    const spans = new Map<number, Buckets>()
    for (const values of statements.closedRows.values(nodeId, cutoffS)) {
      const startS = chunkStartOf(tier, values[0] as number)
      let span = spans.get(startS)
      if (!span) spans.set(startS, (span = noBuckets()))
      appendRow(span, values)
    }
    let compacted = 0
    for (const [startS, rows] of spans) {
      const existing = statements.chunk.get(nodeId, startS)
      let buckets = rows
      if (existing) {
        const compactedBefore = noBuckets()
        decodeChunk(existing, compactedBefore)
        buckets = mergeBuckets(compactedBefore, rows)
      }
      let values: (number | Uint8Array | null)[]
      try {
        values = encodeChunk(startS, buckets)
      } catch (error) {
        if (!(error instanceof UncodableValue)) throw error
        // Kept as rows, which hold any value: reads merge them with chunks all the same.
        if (!this.warned) console.error(`history of node ${nodeId} from ${startS} stays uncompacted: ${error.message}`)
        this.warned = true
        continue
      }
      statements.saveChunk.run(nodeId, startS, ...values)
      this.afterChunkSaved?.()
      statements.deleteRows.run(nodeId, startS, startS + tier.spanS)
      compacted += rows.bucketS.length
    }
    return compacted
  }
}
