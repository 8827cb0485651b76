/**
 * The writer actor: the only read-write SQLite connection. Whatever write messages arrive while a
 * transaction runs are committed together in the next one (group commit, sized by what waits:
 * group-commit.ts), and each batch is confirmed only after its transaction committed. Its thread
 * entry point is workers/writer.ts.
 */
import type { Database } from 'bun:sqlite'
import { Mailbox } from '../threads/mailbox'
import type { HubToWriter, WriterSettings, WriterToHub } from './messages'
import { isFault, type FaultMessage, type WriterFault } from '../faults/hooks'
import { openWriteConnection } from '../storage/connection'
import { MetricsWriter } from '../storage/metrics-writer'
import type { CompactionItem } from '../storage/compaction'
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

/** Runs the writer actor on a Worker's message port. */
export function serveWriter(self: Port): void {
  let db: Database | undefined
  let writer: MetricsWriter | undefined
  let cleanupTimer: Timer | undefined
  let dbPath = ''
  let queue: Queued[] = []
  let flushScheduled = false
  let injectedDelayMs = 0
  let faultHooks = false
  let crashOnClose = false
  let compaction: { items: CompactionItem[]; points: Record<string, number>; spans: number; started: number } | undefined

  const outbox = new Mailbox<WriterToHub>((batch) => self.postMessage(batch))
  const send = (message: WriterToHub) => outbox.send(message)

  function open(settings: WriterSettings): void {
    faultHooks = settings.faultHooks === true
    dbPath = settings.dbPath
    try {
      db = openWriteConnection(settings.dbPath)
    } catch (error) {
      send({ type: 'fatal', message: `cannot open ${settings.dbPath}: ${(error as Error).message}`, corrupt: isCorruption(error) })
      return
    }
    const problem = integrityProblem(db)
    if (problem) {
      db.close()
      db = undefined
      send({ type: 'fatal', message: `${settings.dbPath} is damaged (PRAGMA quick_check: ${problem}); restore it from a backup or move it aside`, corrupt: true })
      return
    }
    try {
      writer = new MetricsWriter(db, settings)
    } catch (error) {
      db.close()
      db = undefined
      send({ type: 'fatal', message: `cannot open ${settings.dbPath}: ${(error as Error).message}`, corrupt: isCorruption(error) })
      return
    }
    cleanupTimer = setInterval(() => cleanup(), settings.cleanupIntervalMs)
    send({ type: 'ready' })
    // A file written before chunks, or days closed while the master was down.
    startCompaction(Date.now())
  }

  /** Queues every node span closed as of `now` for compaction, one step at a time between writes. */
  function startCompaction(now: number): void {
    if (!writer) return
    try {
      const items = writer.compactor.pending(now)
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
    if (!writer || !compaction) return
    // Agents wait for their commits; compaction waits for them.
    if (queue.length > 0) return void setTimeout(compactStep, 1)
    const free = freeBytes(dbPath)
    if (free !== undefined && free < COMPACTION_MIN_FREE_BYTES) {
      console.error(`history compaction paused: ${(free / 2 ** 20).toFixed(0)} MB free beside ${dbPath}, ` +
        `below ${COMPACTION_MIN_FREE_BYTES / 2 ** 20} MB; agents' writes keep the space (the next cleanup tick tries again)`)
      compaction.items = []
    }
    const step = compaction.items.splice(0, COMPACT_SPANS_PER_STEP)
    try {
      // A node with more closed spans goes to the back of the line.
      compaction.items.push(...writer.compactor.compact(step, compaction.points))
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

  /** What PRAGMA quick_check finds wrong with the file, or undefined when it is sound. */
  function integrityProblem(db: Database): string | undefined {
    try {
      const rows = db.query('PRAGMA quick_check').all() as { quick_check: string }[]
      const found = rows.map((row) => row.quick_check).filter((line) => line !== 'ok')
      return found.length === 0 ? undefined : found.slice(0, 3).join('; ')
    } catch (error) {
      return (error as Error).message
    }
  }

  /** SQLite's words for a file that is not a sound database. */
  const isCorruption = (error: unknown) => /not a database|malformed|corrupt/i.test((error as Error).message)

  function cleanup(now = Date.now()): void {
    if (!writer) return
    try {
      send({ type: 'cleaned', ...writer.cleanup(now) })
    } catch (error) {
      console.error(`retention cleanup failed: ${(error as Error).message}`)
    }
    startCompaction(now)
  }

  function scheduleFlush(): void {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(flush)
  }

  function flush(): void {
    flushScheduled = false
    if (!writer || queue.length === 0) return
    const taken = queue.splice(0, batchesToTake(queue))
    const rowCount = taken.reduce((count, item) => count + item.rows.length, 0)
    const batches = taken.map((item) => item.batch)
    if (injectedDelayMs > 0) Bun.sleepSync(injectedDelayMs)
    try {
      const started = performance.now()
      const written = writer.write(taken.flatMap((item) => item.rows))
      let at = 0
      const stored = taken.map((item) => item.rows.reduce((count) => count + (written[at++] ? 1 : 0), 0))
      send({ type: 'committed', batches, stored, rows: rowCount, ms: performance.now() - started })
    } catch (error) {
      send({ type: 'failed', batches, message: (error as Error).message })
    }
    if (queue.length > 0) scheduleFlush()
  }

  function close(): void {
    if (crashOnClose) throw new Error('injected writer crash at close')
    clearInterval(cleanupTimer)
    compaction = undefined
    while (queue.length > 0) flush()
    if (db) {
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      db.close()
    }
    db = undefined
    writer = undefined
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
        db!.exec(`PRAGMA query_only = ${fault.on ? 1 : 0}`)
        return
      case 'disk-full': {
        const pages = (db!.query('PRAGMA page_count').get() as { page_count: number }).page_count
        db!.exec(`PRAGMA max_page_count = ${fault.on ? pages : 1_073_741_823}`)
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
        return open(message.settings)
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
        return scheduleFlush()
      }
      case 'cleanup':
        return cleanup(message.now)
      case 'close':
        return close()
    }
  }
}
