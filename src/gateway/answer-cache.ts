/**
 * Answers built from a cluster's data (its node list, its newest envelope), kept until that data
 * changes. Dashboards poll the same large cluster over and over between two agent posts; each
 * answer otherwise reads and joins megabytes, and many slow readers of one answer share one copy.
 * Bounded by total size, least recently used first out.
 */
export class AnswerCache {
  private readonly entries = new Map<string, { version: string; body: Uint8Array; etag?: string }>()
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  get(key: string, version: string): Uint8Array | undefined {
    const entry = this.entries.get(key)
    if (!entry || entry.version !== version) return undefined
    this.entries.delete(key) // re-insert: Map order is the recency order
    this.entries.set(key, entry)
    return entry.body
  }

  /**
   * The answer's entity tag, from its bytes: two masters that hold the same data give the same tag,
   * so a dashboard behind a load balancer revalidates on either. Worked out once per answer, when
   * first asked for.
   */
  etag(key: string, version: string, body: Uint8Array): string {
    const entry = this.entries.get(key)
    if (entry?.version === version && entry.body === body) return (entry.etag ??= etagOf(body))
    return etagOf(body)
  }

  set(key: string, version: string, body: Uint8Array): void {
    this.remove(key)
    if (body.byteLength > this.maxBytes) return
    this.entries.set(key, { version, body })
    this.bytes += body.byteLength
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.remove(oldest)
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key)
    if (!entry) return
    this.entries.delete(key)
    this.bytes -= entry.body.byteLength
  }
}

const etagOf = (body: Uint8Array) => `W/"${Bun.hash(body).toString(36)}"`
