import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

const BUSY_TIMEOUT_MS = 5_000

/** The one read-write connection: WAL so readers never block it, NORMAL sync (durable against a process crash). */
export function openWriteConnection(path: string): Database {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, readwrite: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  return db
}

/** A query connection. The file must exist: the writer creates it before it says ready. */
export function openReadConnection(path: string): Database {
  const db = new Database(path, { readonly: true, strict: true })
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  return db
}
