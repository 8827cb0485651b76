import { openReadConnection } from './connection'
import { MetricsReader } from './metrics-reader'
import { openPostgresReadStore, openPostgresWriteStore } from './postgres'
import { isUnreachable } from './postgres/connect'
import { SqliteWriteStore } from './sqlite-store'
import { StoreOpenError, type ReadStore, type StoreLocation, type WriteStore, type WriteStoreSettings } from './store'

/** The writer's store of the dialect `location` names, opened and migrated. Throws StoreOpenError. */
export async function openWriteStore(location: StoreLocation, settings: WriteStoreSettings): Promise<WriteStore> {
  if (location.dialect === 'sqlite') return SqliteWriteStore.open(location.dbPath, settings)
  // Its message names the server already (without the password).
  return openPostgresWriteStore(location.url, settings).catch((error: Error) => {
    throw new StoreOpenError(error.message, false, isUnreachable(error))
  })
}

/**
 * The gateway's store: SQLite read-only (the writer has created the file by then), or PostgreSQL
 * at DATABASE_READ_URL when given (a replica), else DATABASE_URL.
 */
export async function openReadStore(location: StoreLocation): Promise<ReadStore> {
  if (location.dialect === 'sqlite') return new MetricsReader(openReadConnection(location.dbPath))
  return openPostgresReadStore(location.readUrl ?? location.url)
}
