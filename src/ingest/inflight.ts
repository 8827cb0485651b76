import { HttpError } from '../http/errors'

/** How long an agent refused for lack of budget is asked to wait: bodies in flight are read within seconds. */
export const BUSY_RETRY_AFTER_SECONDS = 2

/** A request that held at least this much counts towards a forced collection when it ends. */
const BIG_BODY_BYTES = 1024 * 1024

/**
 * MAX_INFLIGHT_BYTES: the bytes of agent bodies the ingest thread holds at once — being read,
 * inflated or parsed — summed over every request. MAX_BODY bounds one body; without this, 30
 * concurrent 15 MiB uploads took 1.2 GiB. Each request holds a lease that grows as its body
 * does and is released, whole, when the request is answered or fails.
 */
export class InflightBudget {
  private used = 0
  private releasedSinceGc = 0

  constructor(readonly limit: number) {}

  /** bytes held by all requests now */
  get bytes(): number {
    return this.used
  }

  lease(): Lease {
    return new Lease(this)
  }

  /** @internal for Lease: takes `bytes` if they fit, or if `alone` (see Lease.take) */
  tryTake(bytes: number, held: number): boolean {
    // A lease that is alone may always grow: MAX_INFLIGHT_BYTES ≥ MAX_BODY, so one body of MAX_BODY
    // read and parsed can always be taken, even when its inflated and parsed forms push it past.
    const alone = this.used === held
    if (!alone && this.used + bytes > this.limit) return false
    this.used += bytes
    return true
  }

  /** @internal for Lease */
  give(bytes: number): void {
    this.used -= bytes
    // A released body is garbage until a collection frees it, and JSC frees big buffers lazily:
    // 30 concurrent uploads of 15 MiB peaked at ~840 MiB RSS under a 256 MiB budget; with a full
    // collection per quarter budget released, 410–430 MiB (1.26 GiB with no budget at all).
    // Only big bodies count: small ones are the common case, and eden collections handle them.
    if (bytes < BIG_BODY_BYTES) return
    this.releasedSinceGc += bytes
    if (this.releasedSinceGc >= this.limit / 4) {
      this.releasedSinceGc = 0
      Bun.gc(true)
    }
  }
}

/** One request's share of the budget. */
export class Lease {
  private held = 0
  private released = false

  constructor(private readonly budget: InflightBudget) {}

  /** the budget's MAX_INFLIGHT_BYTES */
  get limit(): number {
    return this.budget.limit
  }

  /** bytes this request holds */
  get bytes(): number {
    return this.held
  }

  /**
   * Takes `bytes` more, or throws the 503 that asks the agent to come back. `take(0)` asks only
   * whether there is room for a body at all (a chunked one, whose size is learned as it arrives).
   */
  take(bytes: number): void {
    if (this.released) throw new Error('a released lease cannot take bytes')
    // Full is full: a body of unknown length is not started on a spent budget.
    const room = bytes > 0 || this.budget.bytes < this.budget.limit || this.budget.bytes === this.held
    if (!room || !this.budget.tryTake(bytes, this.held)) throw busy(this.budget.limit)
    this.held += bytes
  }

  /** how many more bytes this request may take now (unbounded while it is alone) */
  get room(): number {
    return this.budget.bytes === this.held ? Infinity : Math.max(0, this.budget.limit - this.budget.bytes)
  }

  /** Gives back everything this request held; later calls do nothing. */
  release(): void {
    if (this.released) return
    this.released = true
    this.budget.give(this.held)
    this.held = 0
  }
}

export const busy = (limit: number) =>
  new HttpError(
    503,
    'busy',
    `the master is holding as many agent bodies as it may (MAX_INFLIGHT_BYTES = ${limit} bytes); retry in ${BUSY_RETRY_AFTER_SECONDS} s`,
    { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
  )
