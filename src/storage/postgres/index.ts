import type { WriteStoreSettings } from '../store'
import { openError, openPool } from './connect'
import { PostgresReadStore } from './read-store'
import { PostgresWriteStore } from './write-store'

export { PostgresReadStore } from './read-store'
export { PostgresWriteStore } from './write-store'

/** Connections of a writer: one write at a time (group commit), beside a cleanup and a partition being made. */
const WRITER_CONNECTIONS = 4
/** Connections of a gateway: its reads run side by side, each one statement. */
const READER_CONNECTIONS = 8

/**
 * The writer's store at DATABASE_URL: the schema migrated, the history partitions of now made.
 * Rejects, saying which server (without its password) and why, when it cannot be reached or refuses.
 */
export async function openPostgresWriteStore(url: string, settings: WriteStoreSettings, now = Date.now()): Promise<PostgresWriteStore> {
  const sql = openPool(url, { max: WRITER_CONNECTIONS, role: 'writer' })
  const store = new PostgresWriteStore(sql, settings)
  try {
    await store.open(now)
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {})
    throw openError(url, error)
  }
  return store
}

/**
 * The gateway's store: DATABASE_READ_URL (a replica) when given, else DATABASE_URL; the caller
 * picks. It checks the schema can be read, so a wrong URL fails the start, not the first query.
 */
export async function openPostgresReadStore(url: string): Promise<PostgresReadStore> {
  const sql = openPool(url, { max: READER_CONNECTIONS, role: 'reader' })
  const store = new PostgresReadStore(sql)
  try {
    await store.ping()
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {})
    throw openError(url, error)
  }
  return store
}
