/**
 * Fair admission to the writer's queue (WRITE_QUEUE_LIMIT is shared by every cluster).
 *
 * A cluster may hold up to an equal share of the queue among the clusters that have rows in it,
 * counting one more share for a cluster that has none yet: so a cluster arriving next always finds
 * room, and one agent posting huge snapshots in a loop can never earn the others 503s. Past its
 * share a cluster may still add a snapshot when it has nothing queued and the queue has room for
 * it, and a snapshot bigger than the whole queue is taken when the queue is empty.
 *
 * Rows admitted within their share are bounded by the limit on their own, so a snapshot admitted
 * past its share never takes their room: the queue holds at most twice the limit (or one snapshot
 * bigger than that, alone).
 */
export interface QueueState {
  /** rows queued by every cluster */
  totalRows: number
  /** of those, the rows admitted within their cluster's share */
  withinShareRows: number
  /** clusters with rows queued */
  activeClusters: number
}

/** How a snapshot is admitted, or false when it must wait (503). */
export type Admission = 'within-share' | 'past-share' | false

export function admit(queue: QueueState, clusterRows: number, rows: number, limit: number): Admission {
  const clusters = queue.activeClusters + (clusterRows === 0 ? 1 : 0)
  const share = limit / (clusters + 1)
  if (clusterRows + rows <= share && queue.withinShareRows + rows <= limit) return 'within-share'
  if (queue.totalRows === 0 || (clusterRows === 0 && queue.totalRows + rows <= limit)) return 'past-share'
  return false
}
