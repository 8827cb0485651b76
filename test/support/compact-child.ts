/**
 * `bun test/support/compact-child.ts DB NOW_MS`: compacts DB's closed history as the writer does,
 * and stops inside the first transaction, between a chunk's save and its rows' delete, saying
 * `inside` — where the compaction test kills it with SIGKILL.
 */
import { openWriteConnection } from '../../src/storage/connection'
import { MetricsWriter } from '../../src/storage/metrics-writer'
import { SETTINGS } from './history-data'

const [dbPath, now] = process.argv.slice(2)
const writer = new MetricsWriter(openWriteConnection(dbPath!), SETTINGS)
writer.compactor.afterChunkSaved = () => {
  console.log('inside')
  Bun.sleepSync(60_000)
}
writer.compactor.compactAll(Number(now))
