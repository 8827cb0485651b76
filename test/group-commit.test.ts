import { expect, test } from 'bun:test'
import { batchesToTake, MAX_NODES_PER_TRANSACTION, MAX_ROWS_PER_TRANSACTION, type Queued } from '../src/writer/group-commit'
import type { NodeRow } from '../src/storage/node-rows'

/** A queued batch: one cluster's snapshot of `nodes` nodes, named from `first` on. */
let batches = 0
function snapshot(cluster: string, nodes: number, first = 0): Queued {
  const rows = Array.from({ length: nodes }, (_, i) => ({ cluster, node: `n${first + i}` }) as NodeRow)
  return { batch: ++batches, rows }
}

test('nothing waits: nothing is taken; one batch waits: it is taken at once', () => {
  expect(batchesToTake([])).toBe(0)
  expect(batchesToTake([snapshot('c', 10)])).toBe(1)
})

test('everything that waits is taken while it stays within both bounds', () => {
  const queue = Array.from({ length: 30 }, (_, i) => snapshot(`c${i}`, 60))
  expect(batchesToTake(queue)).toBe(30)
  expect(MAX_NODES_PER_TRANSACTION).toBeGreaterThanOrEqual(1_800)
})

test('distinct nodes end a transaction at MAX_NODES', () => {
  // 100 nodes per snapshot, every cluster its own: the 21st snapshot would make 2,100 nodes.
  const queue = Array.from({ length: 50 }, (_, i) => snapshot(`c${i}`, 100))
  expect(batchesToTake(queue, 2_000, 20_000)).toBe(20)
})

test('a backlog that repeats nodes is taken far past MAX_NODES rows, up to MAX_ROWS', () => {
  // 1,000 nodes in 10 clusters, each cluster's snapshot queued 30 times: 30,000 rows, 1,000 nodes.
  const queue = Array.from({ length: 30 }, () => Array.from({ length: 10 }, (_, c) => snapshot(`c${c}`, 100))).flat()
  expect(batchesToTake(queue, 2_000, 20_000)).toBe(200)
  expect(batchesToTake(queue, 2_000, 100_000)).toBe(300)
  // Some new nodes among the repeats: they count, the repeats do not.
  const mixed = [...queue.slice(0, 50), snapshot('c0', 100, 100), snapshot('c1', 100, 100), ...queue.slice(50, 80), snapshot('new', 1_000)]
  expect(batchesToTake(mixed, 1_200, 20_000)).toBe(82)
  expect(batchesToTake(mixed, 1_199, 20_000)).toBe(51)
})

test('the first batch is taken however big; a big one behind others waits for the next transaction', () => {
  expect(batchesToTake([snapshot('huge', MAX_ROWS_PER_TRANSACTION + 1), snapshot('c', 1)])).toBe(1)
  expect(batchesToTake([snapshot('c', 1), snapshot('huge', MAX_ROWS_PER_TRANSACTION)])).toBe(1)
  expect(batchesToTake([snapshot('c', 1), snapshot('wide', MAX_NODES_PER_TRANSACTION)])).toBe(1)
})
