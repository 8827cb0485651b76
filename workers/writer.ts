/**
 * Writer thread: the only read-write SQLite connection. Whatever write messages arrive while a
 * transaction runs are committed together in the next one (group commit), and each batch is
 * confirmed only after its transaction committed.
 */
import type { Database } from 'bun:sqlite'
import { Mailbox } from '../src/messages/mailbox'
import type { HubToWriter, WriterFault, WriterSettings, WriterToHub } from '../src/messages/writer'
import { openWriteConnection } from '../src/storage/connection'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { decodeRows, type NodeRow } from '../src/storage/node-rows'

declare const self: Worker

/** Rows per transaction at most, so one huge backlog does not hold every answer back. */
const MAX_ROWS_PER_TRANSACTION = 5_000

let db: Database | undefined
let writer: MetricsWriter | undefined
let cleanupTimer: Timer | undefined
let queue: { batch: number; rows: NodeRow[] }[] = []
let flushScheduled = false
let injectedDelayMs = 0

const outbox = new Mailbox<WriterToHub>((batch) => self.postMessage(batch))
const send = (message: WriterToHub) => outbox.send(message)

function open(settings: WriterSettings): void {
  try {
    db = openWriteConnection(settings.dbPath)
    writer = new MetricsWriter(db, settings)
  } catch (error) {
    send({ type: 'fatal', message: `cannot open ${settings.dbPath}: ${(error as Error).message}` })
    return
  }
  cleanupTimer = setInterval(cleanup, settings.cleanupIntervalMs)
  send({ type: 'ready' })
}

function cleanup(): void {
  if (!writer) return
  try {
    send({ type: 'cleaned', ...writer.cleanup() })
  } catch (error) {
    console.error(`retention cleanup failed: ${(error as Error).message}`)
  }
}

function scheduleFlush(): void {
  if (flushScheduled) return
  flushScheduled = true
  setImmediate(flush)
}

function flush(): void {
  flushScheduled = false
  if (!writer || queue.length === 0) return
  const taken: typeof queue = []
  let rowCount = 0
  while (queue.length > 0 && rowCount < MAX_ROWS_PER_TRANSACTION) {
    const next = queue.shift()!
    taken.push(next)
    rowCount += next.rows.length
  }
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
  clearInterval(cleanupTimer)
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

self.onmessage = (event: MessageEvent<HubToWriter[]>) => {
  for (const message of event.data) handle(message)
}

function handle(message: HubToWriter): void {
  switch (message.type) {
    case 'open':
      return open(message.settings)
    case 'write': {
      let rows: NodeRow[]
      try {
        rows = decodeRows(message.rows)
      } catch (error) {
        return send({ type: 'failed', batches: [message.batch], message: `undecodable rows: ${(error as Error).message}` })
      }
      queue.push({ batch: message.batch, rows })
      return scheduleFlush()
    }
    case 'cleanup':
      return cleanup()
    case 'close':
      return close()
    case 'fault':
      return inject(message.fault)
  }
}
