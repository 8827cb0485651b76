import type { Database } from 'bun:sqlite'
import { openWriteConnection } from './connection'
import { MetricsWriter } from './metrics-writer'
import { StoreOpenError, type WriteStore, type WriteStoreSettings } from './store'

/**
 * The embedded dialect's write side: the one read-write connection to the SQLite file, which the
 * writer actor also compacts history through (storage/compaction.ts) and injects the tests' disk
 * faults into.
 */
export class SqliteWriteStore implements WriteStore {
  readonly dialect = 'sqlite'

  private constructor(
    readonly db: Database,
    readonly writer: MetricsWriter,
    readonly dbPath: string,
  ) {}

  /** Opens (creating and migrating) the file; refuses one that PRAGMA quick_check finds damaged. */
  static open(dbPath: string, settings: WriteStoreSettings): SqliteWriteStore {
    let db: Database
    try {
      db = openWriteConnection(dbPath)
    } catch (error) {
      throw new StoreOpenError(`cannot open ${dbPath}: ${(error as Error).message}`, isCorruption(error))
    }
    const problem = integrityProblem(db)
    if (problem) {
      db.close()
      throw new StoreOpenError(`${dbPath} is damaged (PRAGMA quick_check: ${problem}); restore it from a backup or move it aside`, true)
    }
    try {
      return new SqliteWriteStore(db, new MetricsWriter(db, settings), dbPath)
    } catch (error) {
      db.close()
      throw new StoreOpenError(`cannot open ${dbPath}: ${(error as Error).message}`, isCorruption(error))
    }
  }

  write(rows: Parameters<MetricsWriter['write']>[0], now?: number): boolean[] {
    return this.writer.write(rows, now)
  }

  cleanup(now?: number) {
    return this.writer.cleanup(now)
  }

  /** Truncates the WAL, so a stopped master leaves one file. */
  close(): void {
    this.writer.close()
  }
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
