import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

const BUSY_TIMEOUT_MS = 5_000
/** Page cache per connection (negative: KiB): a 1,000-node latest table is ~4 MB, SQLite's default cache 2 MB. */
const CACHE_KIB = 64 * 1024
/**
 * WAL pages between checkpoints (SQLite's default: 1,000). A 1,000-row transaction writes more
 * pages than that (each latest row holds a KB-sized snapshot), so the default checkpointed — and
 * synced — after nearly every commit; at 10,000 (40 MB of WAL) the bare write loop ran 30–70 %
 * faster. The WAL is truncated at shutdown as before.
 */
const WAL_CHECKPOINT_PAGES = 10_000
/** Reads through a memory map skip a system call per page; it is address space, not memory. */
const MMAP_BYTES = 1024 ** 3

/** The one read-write connection: WAL so readers never block it, NORMAL sync (durable against a process crash). */
export function openWriteConnection(path: string): Database {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, readwrite: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`)
  return db
}

/** A query connection. The file must exist: the writer creates it before it says ready. */
export function openReadConnection(path: string): Database {
  const db = new Database(path, { readonly: true, strict: true })
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`)
  return db
}
