import { HttpError } from '../http/errors'

/** How long an agent refused for lack of budget is asked to wait: bodies in flight are read within seconds. */
export const BUSY_RETRY_AFTER_SECONDS = 2

/** A request that held at least this much counts towards a forced collection when it ends. */
const BIG_BODY_BYTES = 1024 * 1024

/**
 * MAX_INFLIGHT_BYTES: the bytes of agent bodies the ingest threads hold at once — being read,
 * inflated or parsed — summed over every request of every thread. MAX_BODY bounds one body;
 * without this, 30 concurrent 15 MiB uploads took 1.2 GiB. Each request holds a lease that grows
 * as its body does and is released, whole, when the request is answered or fails.
 *
 * The threads count in shared memory (`sharedBudgetMemory`): the total, taken by compare-and-swap
 * so it never passes the limit, and what each thread holds, so a thread that dies can be given
 * back what it held (`reclaimThread`). Split per thread instead, the kernel's uneven spread of
 * connections would refuse agents on one thread while another has room.
 */
export class InflightBudget {
  /** [0]: bytes held by all threads; [1 + thread]: by that thread */
  private readonly counters: BigInt64Array
  private readonly own: number
  private readonly gcEvery: number
  private releasedSinceGc = 0

  /** `shared`: the memory of a budget shared by several threads, and this thread's index; without it, a budget of its own */
  constructor(
    readonly limit: number,
    shared: { memory: SharedArrayBuffer; thread: number } = { memory: sharedBudgetMemory(1), thread: 0 },
  ) {
    this.counters = new BigInt64Array(shared.memory)
    this.own = 1 + shared.thread
    // Each thread collects its own heap: together they leave at most a quarter budget of garbage.
    this.gcEvery = limit / 4 / (this.counters.length - 1)
  }

  /** bytes held by all requests now */
  get bytes(): number {
    return Number(Atomics.load(this.counters, 0))
  }

  lease(): Lease {
    return new Lease(this)
  }

  /** @internal for Lease: takes `bytes` if they fit, or if `alone` (see Lease.take) */
  tryTake(bytes: number, held: number): boolean {
    for (;;) {
      const used = Atomics.load(this.counters, 0)
      // A lease that is alone may always grow: MAX_INFLIGHT_BYTES ≥ MAX_BODY, so one body of MAX_BODY
      // read and parsed can always be taken, even when its inflated and parsed forms push it past.
      const alone = Number(used) === held
      if (!alone && Number(used) + bytes > this.limit) return false
      // Another thread may have taken or given meanwhile: then look again.
      if (Atomics.compareExchange(this.counters, 0, used, used + BigInt(bytes)) !== used) continue
      Atomics.add(this.counters, this.own, BigInt(bytes))
      return true
    }
  }

  /** @internal for Lease */
  give(bytes: number): void {
    Atomics.sub(this.counters, this.own, BigInt(bytes))
    Atomics.sub(this.counters, 0, BigInt(bytes))
    // A released body is garbage until a collection frees it, and JSC frees big buffers lazily:
    // 30 concurrent uploads of 15 MiB peaked at ~840 MiB RSS under a 256 MiB budget; with a full
    // collection per quarter budget released, 410–430 MiB (1.26 GiB with no budget at all).
    // Only big bodies count: small ones are the common case, and eden collections handle them.
    if (bytes < BIG_BODY_BYTES) return
    this.releasedSinceGc += bytes
    if (this.releasedSinceGc >= this.gcEvery) {
      this.releasedSinceGc = 0
      Bun.gc(true)
    }
  }
}

/** The memory of a budget shared by `threads` ingest threads (see InflightBudget). */
export function sharedBudgetMemory(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT * (1 + threads))
}

/**
 * Gives back what a dead thread held: its requests died with it. Safe once its death is reported:
 * a Worker runs no more code after an uncaught error or its exit.
 */
export function reclaimThread(memory: SharedArrayBuffer, thread: number): void {
  const counters = new BigInt64Array(memory)
  Atomics.sub(counters, 0, Atomics.exchange(counters, 1 + thread, 0n))
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
