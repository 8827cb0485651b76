import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

const BUSY_TIMEOUT_MS = 5_000
/** Page cache per connection (negative: KiB): a 1,000-node latest table is ~4 MB, SQLite's default cache 2 MB. */
const CACHE_KIB = 64 * 1024
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
