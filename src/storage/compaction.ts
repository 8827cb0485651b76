import type { Database, Statement } from 'bun:sqlite'
import { mergeBuckets, noBuckets } from './buckets'
import { appendRow, CHUNK_COLUMNS, chunkStartOf, decodeChunk, encodeChunk, rowColumns, type ChunkRow } from './chunks'
import { ALL_FIGURES } from './buckets'
import type { Tier } from './tiers'

/** One node's closed spans of one tier still held as rows, compacted one span per step. */
export interface CompactionItem {
  tier: Tier
  nodeId: number
  /** rows with buckets before this (epoch s, a span start) are in closed spans */
  cutoffS: number
  /** spans before this were done (or left as rows) by an earlier step */
  doneS: number
}

/** The start of the first span still open at `now`: one bucket after a span ends, it is closed. */
const closedBefore = (tier: Tier, now: number) => chunkStartOf(tier, Math.floor(now / 1000) - tier.intervalS)

interface TierStatements {
  tier: Tier
  pendingNodes: Statement<{ id: number }, [number]>
  firstRow: Statement<{ first: number | null }, [number, number, number]>
  spanRows: Statement<unknown[], [number, number, number]>
  overlapping: Statement<ChunkRow, [number, number, number]>
  deleteChunks: Statement<never, [number, number, number]>
  saveChunk: Statement<never, (number | Uint8Array | null)[]>
  deleteRows: Statement<never, [number, number, number]>
}

/**
 * Turns the closed spans of each tier's open rows into chunks, on the writer's connection. A
 * span's chunk is saved in the transaction that deletes its rows, so a process killed at any
 * moment leaves every bucket counted exactly once: as a row or in a chunk. A bucket that arrives
 * for a span already compacted (a late snapshot) is a row until the next pass merges it in.
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
      firstRow: db.query(`SELECT MIN(bucket_s) AS first FROM ${tier.table} WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3`),
      spanRows: db.query(`SELECT ${rowColumns(ALL_FIGURES)} FROM ${tier.table} WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3 ORDER BY bucket_s`),
      // Chunks that share time with a span: its own, or ones written under another SAMPLE_INTERVAL.
      overlapping: db.query(`SELECT * FROM ${tier.chunkTable} WHERE node_id = ?1 AND start_s < ?3 AND end_s > ?2 ORDER BY start_s`),
      deleteChunks: db.query(`DELETE FROM ${tier.chunkTable} WHERE node_id = ?1 AND start_s < ?3 AND end_s > ?2`),
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
      for (const { id } of pendingNodes.all(cutoffS)) items.push({ tier, nodeId: id, cutoffS, doneS: -Infinity })
    }
    return items
  }

  /** One node's closed spans of every tier as of `now` (the bench's pre-fill compacts node by node). */
  itemsFor(nodeId: number, now: number): CompactionItem[] {
    return this.tiers.map(({ tier }) => ({ tier, nodeId, cutoffS: closedBefore(tier, now), doneS: -Infinity }))
  }

  /**
   * Compacts the next closed span of each item in one transaction, adding the rows that became
   * chunk points to `points` by tier. Returns the items with spans left: a step stays one span per
   * node, however long a node's backlog (a file from before chunks holds a month of rows).
   */
  compact(items: readonly CompactionItem[], points: Record<string, number> = {}): CompactionItem[] {
    const left: CompactionItem[] = []
    this.db.transaction(() => {
      for (const item of items) {
        const next = this.compactSpan(item)
        if (next === undefined) continue
        points[item.tier.name] = (points[item.tier.name] ?? 0) + next.rows
        left.push({ ...item, doneS: next.doneS })
      }
    })()
    return left
  }

  /** Everything pending as of `now`, `perTransaction` node spans a transaction (tests, the bench's pre-fill). */
  compactAll(now: number, perTransaction = 64): Record<string, number> {
    return this.compactItems(this.pending(now), perTransaction)
  }

  /** Every closed span of `items`, `perTransaction` node spans a transaction. */
  compactItems(items: CompactionItem[], perTransaction = 64): Record<string, number> {
    const points: Record<string, number> = {}
    while (items.length > 0) items = [...this.compact(items.slice(0, perTransaction), points), ...items.slice(perTransaction)]
    return points
  }

  /** The item's first closed span not yet done, compacted; undefined when there is none. */
  private compactSpan({ tier, nodeId, cutoffS, doneS }: CompactionItem): { rows: number; doneS: number } | undefined {
    const statements = this.tiers.find((candidate) => candidate.tier === tier)!
    const first = statements.firstRow.get(nodeId, Math.max(doneS, -(2 ** 53)), cutoffS)?.first
    if (first === null || first === undefined) return undefined
    let startS = chunkStartOf(tier, first)
    let endS = startS + tier.spanS
    // Chunks never overlap: one written under another SAMPLE_INTERVAL that shares time with this
    // span is merged into it, and the chunk covers both.
    let existing = statements.overlapping.all(nodeId, startS, endS)
    for (;;) {
      const [from, to] = [Math.min(startS, ...existing.map((chunk) => chunk.start_s)), Math.max(endS, ...existing.map((chunk) => chunk.end_s))]
      if (from === startS && to === endS) break
      ;[startS, endS] = [from, to]
      existing = statements.overlapping.all(nodeId, startS, endS)
    }
    const rows = noBuckets()
    for (const values of statements.spanRows.values(nodeId, startS, endS)) appendRow(rows, values)
    let buckets = rows
    let values: (number | Uint8Array | null)[]
    try {
      for (const chunk of existing) {
        const compacted = noBuckets()
        decodeChunk(chunk, compacted)
        buckets = mergeBuckets(compacted, buckets)
      }
      values = encodeChunk(startS, endS, buckets)
    } catch (error) {
      // Kept as rows, which hold any value (and a chunk that cannot be read is not overwritten):
      // reads merge them with chunks all the same.
      if (!this.warned) console.error(`history of node ${nodeId} from ${startS} stays uncompacted: ${(error as Error).message}`)
      this.warned = true
      return { rows: 0, doneS: endS }
    }
    statements.deleteChunks.run(nodeId, startS, endS)
    statements.saveChunk.run(nodeId, startS, ...values)
    this.afterChunkSaved?.()
    statements.deleteRows.run(nodeId, startS, endS)
    return { rows: rows.bucketS.length, doneS: endS }
  }
}
