import { redact } from '../config/config'
import type { StoreLocation } from './store'

/** A store as an operator reads it in the log: the dialect and where, without a password. */
export function describeStore(location: StoreLocation): string {
  if (location.dialect === 'sqlite') return `SQLite ${location.dbPath}`
  return `PostgreSQL ${redact(location.url)}${location.readUrl ? ` (reads: ${redact(location.readUrl)})` : ''}`
}
