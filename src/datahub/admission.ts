/**
 * Fair admission to the writer's queue (WRITE_QUEUE_LIMIT is shared by every cluster).
 *
 * A cluster may hold up to an equal share of the queue among the clusters that have rows in it,
 * counting one more share for a cluster that has none yet: so a cluster arriving next always finds
 * room, and one agent posting huge snapshots in a loop can never earn the others 503s. Past its
 * share a cluster may still add a snapshot when it has nothing queued and the queue has room for
 * it, and a snapshot bigger than the whole queue is taken when the queue is empty.
 */
export interface QueueState {
  /** rows queued by every cluster */
  totalRows: number
  /** clusters with rows queued */
  activeClusters: number
}

export function admits(queue: QueueState, clusterRows: number, rows: number, limit: number): boolean {
  if (queue.totalRows === 0) return true
  const clusters = queue.activeClusters + (clusterRows === 0 ? 1 : 0)
  const share = limit / (clusters + 1)
  if (clusterRows + rows <= share) return true
  return clusterRows === 0 && queue.totalRows + rows <= limit
}
