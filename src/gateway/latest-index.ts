import type { LatestFigures } from '../storage/metrics-reader'
import type { ReadStore } from '../storage/store'

interface Entry {
  version: string
  rows: LatestFigures[]
  byName: Map<string, LatestFigures>
}

/**
 * Each cluster's latest figure rows, read once per state of its data (its data version, which the DataHub sends) and
 * kept for the answers in between: the node route's status and figures and the fleet-history
 * size check need one node or the node count, and a cluster's list is read once, not per request.
 * Bounded by total rows, least recently used first out.
 */
export class LatestIndex {
  private readonly entries = new Map<string, Entry>()
  private rowCount = 0

  constructor(
    private readonly reader: ReadStore,
    private readonly dataVersion: (clusterId: string) => Promise<string>,
    private readonly maxRows: number,
  ) {}

  /** The cluster's rows by node name (in name order), current as of this call. */
  async get(clusterId: string): Promise<Entry> {
    // The version is read before the rows: rows newer than their label are read again next time. A
    // commit the gateway has not heard of yet (its message is on the way) is read at the next change.
    const version = await this.dataVersion(clusterId)
    const cached = this.entries.get(clusterId)
    if (cached?.version === version) {
      this.entries.delete(clusterId) // re-insert: Map order is the recency order
      this.entries.set(clusterId, cached)
      return cached
    }
    const rows = await this.reader.listFigures(clusterId)
    const entry = { version, rows, byName: new Map(rows.map((row) => [row.node_name, row])) }
    this.remove(clusterId)
    if (rows.length <= this.maxRows) {
      this.entries.set(clusterId, entry)
      this.rowCount += rows.length
      for (const [oldest] of this.entries) {
        if (this.rowCount <= this.maxRows) break
        this.remove(oldest)
      }
    }
    return entry
  }

  private remove(clusterId: string): void {
    const entry = this.entries.get(clusterId)
    if (!entry) return
    this.entries.delete(clusterId)
    this.rowCount -= entry.rows.length
  }
}
