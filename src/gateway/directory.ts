import type { ClusterView } from './messages'

/** The gateway's copy of what the DataHub knows of each cluster, kept current by its messages. */
export class ClusterDirectory {
  private readonly views = new Map<string, ClusterView>()

  apply(views: readonly [string, ClusterView | null][]): void {
    for (const [clusterId, view] of views) {
      if (view) this.views.set(clusterId, view)
      else this.views.delete(clusterId)
    }
  }

  get(clusterId: string): ClusterView | undefined {
    return this.views.get(clusterId)
  }

  entries(): IterableIterator<[string, ClusterView]> {
    return this.views.entries()
  }

  get size(): number {
    return this.views.size
  }
}
