import { statfsSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Free bytes at least this many are needed before the writer compacts history: a compaction step
 * writes its chunks before the rows it replaces are freed, and its WAL grows until a checkpoint
 * (storage/connection.ts: up to 40 MB). Below it, agents' writes keep what space is left.
 */
export const COMPACTION_MIN_FREE_BYTES = 128 * 2 ** 20

/** Bytes an unprivileged writer may still use on the database file's file system; undefined when it cannot be told. */
export function freeBytes(dbPath: string): number | undefined {
  try {
    const stats = statfsSync(dirname(dbPath))
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}
