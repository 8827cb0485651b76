import type { NodeRow } from '../storage/node-rows'

/**
 * How much of what waits one transaction takes (group commit). Nothing is ever waited for: the
 * writer starts a transaction as soon as it is free and takes every batch queued by then, in
 * order, until the next would pass a bound; the first batch always, however big.
 *
 * The bounds follow what a transaction costs, measured by bench/writer.ts (2-core VM, file on
 * disk): each distinct node ≈ 25–35 µs (its latest row is rewritten once per transaction, and
 * its snapshot fills a page) plus each row ≈ 3–5 µs (its history points).
 * - With every node once, rows/s stops growing past ~1,000 rows a transaction, while the
 *   transaction's time — how long every answer in it waits — keeps growing (3,000 nodes ≈ 80 ms,
 *   10,000 ≈ 240 ms, 30,000 ≈ 780 ms). Past MAX_NODES a bigger one would only hold answers back.
 * - A backlog repeats nodes (a writer that fell behind holds several snapshots of each), and then
 *   a bigger transaction is far cheaper per row: 1,000 nodes in 1,000 rows ≈ 24 ms, in 10,000
 *   ≈ 60 ms (×4 the rows/s), in 30,000 ≈ 140 ms (×5). So rows are bounded much higher than
 *   nodes: the queue the DataHub lets wait (up to twice WRITE_QUEUE_LIMIT, 40,000 rows by
 *   default) drains in two transactions when it repeats up to 2,000 nodes.
 * Both bounds together keep a transaction near ≤ 150 ms on such a machine, however much waits.
 */
export const MAX_NODES_PER_TRANSACTION = 2_000
export const MAX_ROWS_PER_TRANSACTION = 20_000

export interface Queued {
  batch: number
  rows: NodeRow[]
}

/** How many batches, from the front of the queue, the next transaction takes (≥ 1 unless the queue is empty). */
export function batchesToTake(
  queue: readonly Queued[],
  maxNodes = MAX_NODES_PER_TRANSACTION,
  maxRows = MAX_ROWS_PER_TRANSACTION,
): number {
  let rows = 0
  // Distinct nodes are counted only once the rows could pass maxNodes: no backlog costs nothing.
  let nodes: Set<string> | undefined
  let taken = 0
  for (const { rows: batch } of queue) {
    if (taken > 0 && rows + batch.length > maxRows) break
    if (rows + batch.length > maxNodes) {
      if (!nodes) nodes = new Set(queue.slice(0, taken).flatMap((item) => item.rows.map(keyOf)))
      const added = new Set(batch.map(keyOf).filter((key) => !nodes!.has(key)))
      if (taken > 0 && nodes.size + added.size > maxNodes) break
      for (const key of added) nodes.add(key)
    }
    rows += batch.length
    taken++
  }
  return taken
}

const keyOf = (row: NodeRow) => `${row.cluster}\u0000${row.node}`
