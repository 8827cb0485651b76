/**
 * The writer actor: the master's only writer to its store (storage/store.ts: the SQLite file's one
 * read-write connection, or a PostgreSQL pool). Whatever write messages arrive while a transaction
 * runs are committed together in the next one (group commit, sized by what waits:
 * group-commit.ts), and each batch is confirmed only after its transaction committed. Its thread
 * entry point is workers/writer.ts.
 */
import { Mailbox } from '../threads/mailbox'
import type { HubToWriter, WriterSettings, WriterToHub } from './messages'
import { isFault, type FaultMessage, type WriterFault } from '../faults/hooks'
import type { CompactionItem } from '../storage/compaction'
import { describeStore } from '../storage/describe-store'
import { openWriteStore } from '../storage/open-store'
import { SqliteWriteStore } from '../storage/sqlite-store'
import { StoreOpenError, type WriteStore } from '../storage/store'
import { COMPACTION_MIN_FREE_BYTES, freeBytes } from '../storage/free-space'
import { decodeRows, type NodeRow } from '../storage/node-rows'
import { batchesToTake, type Queued } from './group-commit'

/** The Worker's global scope, as far as the actor needs it. */
interface Port {
  postMessage(message: unknown): void
  onmessage: ((event: MessageEvent) => void) | null
}

/**
 * Node spans compacted per transaction: a node's day is ~300 rows and about a millisecond, so a
 * step stays short and agents' writes, which go first, wait at most one step.
 */
const COMPACT_SPANS_PER_STEP = 8

/**
 * A transaction the store has not answered for this long is stuck (a PostgreSQL server that hangs
 * enforces none of its own timeouts): what waits behind it is answered 503 at once — it never
 * reached the store — instead of holding agents until their deadline.
 */
export const STUCK_WRITE_MS = 10_000
/** How often a store that cannot be reached at start is tried again. */
const OPEN_RETRY_MS = 2_000

/** Runs the writer actor on a Worker's message port. */
export function serveWriter(self: Port): void {
  let store: WriteStore | undefined
  /** the same store when it is SQLite: history compaction and the disk faults are the file's */
  let sqlite: SqliteWriteStore | undefined
  let cleanupTimer: Timer | undefined
  let queue: Queued[] = []
  let flushScheduled = false
  /** a transaction is running (PostgreSQL answers later): what arrives meanwhile waits for the next */
  let writing: Promise<void> | undefined
  /** when the running transaction was started (performance.now()) */
  let writingSince = 0
  /** the running transaction's batches, until they are reported unconfirmed */
  let writingBatches: number[] = []
  let stuckCheck: Timer | undefined
  let cleaning = false
  let injectedDelayMs = 0
  let faultHooks = false
  let crashOnClose = false
  let compaction: { items: CompactionItem[]; points: Record<string, number>; spans: number; started: number } | undefined

  const outbox = new Mailbox<WriterToHub>((batch) => self.postMessage(batch))
  const send = (message: WriterToHub) => outbox.send(message)

  async function open(settings: WriterSettings, attempt = 0): Promise<void> {
    faultHooks = settings.faultHooks === true
    try {
      store = await openWriteStore(settings.store, settings)
    } catch (error) {
      // A server that cannot be reached yet (a failover, a fleet started before its database) is
      // waited for: the master starts, or its writer is back, once it answers.
      if (error instanceof StoreOpenError && error.unreachable) {
        if (attempt === 0) console.error(`${error.message}; trying again every ${OPEN_RETRY_MS / 1000} s`)
        setTimeout(() => void open(settings, attempt + 1), OPEN_RETRY_MS)
        return
      }
      const corrupt = error instanceof StoreOpenError && error.corrupt
      const message = error instanceof StoreOpenError ? error.message : `cannot open ${describeStore(settings.store)}: ${(error as Error).message}`
      send({ type: 'fatal', message, corrupt })
      return
    }
    if (attempt > 0) console.error(`${describeStore(settings.store)} answers again: the writer is up`)
    sqlite = store instanceof SqliteWriteStore ? store : undefined
    cleanupTimer = setInterval(() => void cleanup(), settings.cleanupIntervalMs)
    send({ type: 'ready' })
    // A file written before chunks, or days closed while the master was down.
    startCompaction(Date.now())
  }

  /** Queues every node span closed as of `now` for compaction, one step at a time between writes (SQLite). */
  function startCompaction(now: number): void {
    if (!sqlite) return
    try {
      const items = sqlite.writer.compactor.pending(now)
      if (items.length === 0) return
      if (compaction) compaction.items.push(...items)
      else {
        compaction = { items, points: {}, spans: 0, started: performance.now() }
        setTimeout(compactStep, 0)
      }
    } catch (error) {
      console.error(`history compaction failed: ${(error as Error).message}`)
    }
  }

  function compactStep(): void {
    if (!sqlite || !compaction) return
    // Agents wait for their commits; compaction waits for them.
    if (queue.length > 0) return void setTimeout(compactStep, 1)
    const free = freeBytes(sqlite.dbPath)
    if (free !== undefined && free < COMPACTION_MIN_FREE_BYTES) {
      console.error(`history compaction paused: ${(free / 2 ** 20).toFixed(0)} MB free beside ${sqlite.dbPath}, ` +
        `below ${COMPACTION_MIN_FREE_BYTES / 2 ** 20} MB; agents' writes keep the space (the next cleanup tick tries again)`)
      compaction.items = []
    }
    const step = compaction.items.splice(0, COMPACT_SPANS_PER_STEP)
    try {
      // A node with more closed spans goes to the back of the line.
      compaction.items.push(...sqlite.writer.compactor.compact(step, compaction.points))
      compaction.spans += step.length
    } catch (error) {
      console.error(`history compaction failed (the next cleanup tick tries again): ${(error as Error).message}`)
      compaction.items = []
    }
    if (compaction.items.length > 0) return void setTimeout(compactStep, 0)
    if (compaction.spans === 0) return void (compaction = undefined)
    send({ type: 'compacted', points: compaction.points, spans: compaction.spans, ms: performance.now() - compaction.started })
    compaction = undefined
  }

  async function cleanup(now = Date.now()): Promise<void> {
    if (!store || cleaning) return
    cleaning = true
    try {
      send({ type: 'cleaned', ...(await store.cleanup(now)) })
    } catch (error) {
      console.error(`retention cleanup failed: ${(error as Error).message}`)
    } finally {
      cleaning = false
    }
    startCompaction(now)
  }

  function scheduleFlush(): void {
    if (flushScheduled || writing) return
    flushScheduled = true
    setImmediate(() => void flush())
  }

  /** Commits what waits, as one transaction; whatever arrives while it runs goes into the next. */
  function flush(): Promise<void> {
    flushScheduled = false
    if (writing) return writing
    if (!store || queue.length === 0) return Promise.resolve()
    const taken = queue.splice(0, batchesToTake(queue))
    const rowCount = taken.reduce((count, item) => count + item.rows.length, 0)
    const batches = taken.map((item) => item.batch)
    if (injectedDelayMs > 0) Bun.sleepSync(injectedDelayMs)
    const started = performance.now()
    const settle = (written: boolean[]) => {
      let at = 0
      const stored = taken.map((item) => item.rows.reduce((count) => count + (written[at++] ? 1 : 0), 0))
      send({ type: 'committed', batches, stored, rows: rowCount, ms: performance.now() - started })
    }
    const fail = (error: unknown) => send({ type: 'failed', batches, message: (error as Error).message })
    let result: boolean[] | Promise<boolean[]>
    try {
      result = store.write(taken.flatMap((item) => item.rows))
    } catch (error) {
      fail(error)
      return next()
    }
    // SQLite has committed by now; PostgreSQL answers later, and the next transaction waits for it.
    if (!(result instanceof Promise)) {
      settle(result)
      return next()
    }
    writingSince = performance.now()
    // A copy: reporting them unconfirmed must leave the list their commit or failure settles.
    writingBatches = [...batches]
    stuckCheck ??= setInterval(failIfStuck, 1_000)
    writing = result.then(settle, fail).finally(() => {
      writing = undefined
      clearInterval(stuckCheck)
      stuckCheck = undefined
      return next()
    })
    return writing
  }

  /**
   * A stuck transaction's agents are told it is unconfirmed, once; what waits behind it is refused:
   * it never reached the store (503, and its agents retry).
   */
  function failIfStuck(): void {
    const waited = performance.now() - writingSince
    if (!writing || waited < STUCK_WRITE_MS) return
    const why = `the store has not answered a transaction for ${Math.round(waited / 1000)} s`
    if (writingBatches.length > 0) send({ type: 'unconfirmed', batches: writingBatches.splice(0), message: why })
    if (queue.length > 0) send({ type: 'failed', batches: queue.splice(0).map((item) => item.batch), message: why })
  }

  function next(): Promise<void> {
    if (queue.length > 0) scheduleFlush()
    return Promise.resolve()
  }

  async function close(): Promise<void> {
    clearInterval(cleanupTimer)
    compaction = undefined
    while (writing || queue.length > 0) await flush()
    try {
      await store?.close()
    } catch (error) {
      console.error(`closing the store: ${(error as Error).message}`)
    }
    store = sqlite = undefined
    send({ type: 'closed' })
  }

  function inject(fault: WriterFault): void {
    switch (fault.kind) {
      case 'crash':
        throw new Error('injected writer crash')
      case 'delay':
        injectedDelayMs = fault.ms
        return
      case 'crash-on-close':
        crashOnClose = true
        return
      case 'read-only':
        sqlite!.db.exec(`PRAGMA query_only = ${fault.on ? 1 : 0}`)
        return
      case 'disk-full': {
        const pages = (sqlite!.db.query('PRAGMA page_count').get() as { page_count: number }).page_count
        sqlite!.db.exec(`PRAGMA max_page_count = ${fault.on ? pages : 1_073_741_823}`)
        return
      }
    }
  }

  self.onmessage = (event: MessageEvent<(HubToWriter | FaultMessage<WriterFault>)[]>) => {
    for (const message of event.data) {
      if (!isFault<WriterFault>(message)) handle(message)
      else if (faultHooks) inject(message.fault)
    }
  }

  function handle(message: HubToWriter): void {
    switch (message.type) {
      case 'open':
        return void open(message.settings)
      case 'write': {
        let rows: NodeRow[]
        try {
          rows = decodeRows(message.rows)
          // Node status goes by when the master received the snapshot, not when a backlog let it be written.
          for (const row of rows) row.receivedMs = message.receivedMs
        } catch (error) {
          return send({ type: 'failed', batches: [message.batch], message: `undecodable rows: ${(error as Error).message}` })
        }
        queue.push({ batch: message.batch, rows })
        scheduleFlush()
        return failIfStuck()
      }
      case 'cleanup':
        return void cleanup(message.now)
      case 'close':
        // Thrown here, not in the promise: an actor that throws dies, as the test of a crash at close needs.
        if (crashOnClose) throw new Error('injected writer crash at close')
        return void close()
    }
  }
}
