import type { LatencyFigures } from '../query-latency'
import type { IngestFigures } from './ingest'
import type { ScaleOutFigures } from './scale-out'
import type { ServerSettings } from './server'

/** The issue's targets for the PostgreSQL store (issue 12). */
export const TARGETS = {
  /** master ack rate / bare rows rate, at least */
  ingestRatio: 0.5,
  /** two masters' ack rate / one master's, at least */
  scaleOutRatio: 1.0,
}

export interface PostgresResults {
  mode: string
  machine: { cpu: string; cores: number; memoryBytes: number; bun: string }
  postgres: ServerSettings
  ingest: IngestFigures[]
  query: { nodes: number; days: number; prefillSeconds: number; alone: LatencyFigures; underIngest: LatencyFigures; targetsMs: Record<string, number>; backgroundNodeSnapshotsPerSecond: number }
  storage: { bytesPerHistoryPoint: number; bytesPerHourlyPoint: number; bytesPerLatestRow: number; databaseBytes: number }
  scaleOut: ScaleOutFigures
  memory: Record<string, number>
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const met = (ok: boolean) => (ok ? 'met' : 'MISSED')

/** The run's figures as a table, laid out as bench/run.ts lays out the SQLite ones. */
export function printReport(results: PostgresResults, queryNames: string[]): void {
  const { machine, postgres, query, storage, scaleOut } = results
  console.log(`\nmachine: ${machine.cpu}, ${machine.cores} cores, ${mib(machine.memoryBytes)}, bun ${machine.bun}${results.mode === 'quick' ? '  (QUICK: small sizes, not the figures to quote)' : ''}`)
  console.log(`PostgreSQL ${postgres.version} on the same machine: fsync ${postgres.fsync}, synchronous_commit ${postgres.synchronousCommit}, ` +
    `full_page_writes ${postgres.fullPageWrites}, shared_buffers ${postgres.sharedBuffers} (the defaults: every commit flushed)`)
  console.log(`\ningest on PostgreSQL (HTTP, gzip, commit before answer)   ack node-snapshots/s   bare rows/s   ratio (≥ ${TARGETS.ingestRatio})   peak RSS   machine busy: master / bare`)
  for (const row of results.ingest) {
    console.log(`  ${String(row.nodes).padStart(6)} nodes, ${String(row.nodesPerSnapshot).padStart(3)} per snapshot, ${String(row.concurrency).padStart(2)} agents at once ` +
      `${String(row.ackPerSecond).padStart(18)} ${String(row.bareRowsPerSecond).padStart(13)} ${String(row.ratio).padStart(7)} ${met(row.ratio >= TARGETS.ingestRatio).padEnd(8)} ${mib(row.peakRssBytes).padStart(8)}   ` +
      `${`${row.machineBusyPercent.master} % / ${row.machineBusyPercent.bare} %`.padStart(19)}` +
      `${row.errors ? `   errors ${row.errors}` : ''}`)
  }
  console.log(`\nquery latency, ${query.nodes}-node cluster, ${query.days} d history (prefilled in ${query.prefillSeconds} s)   alone p50/p99 ms   under ingest p50/p99 ms   target p99`)
  for (const name of queryNames) {
    const alone = query.alone[name]!
    const loaded = query.underIngest[name]!
    console.log(`  ${name.padEnd(50)} ${`${alone.p50} / ${alone.p99}`.padStart(16)} ${`${loaded.p50} / ${loaded.p99}`.padStart(25)}   ≤ ${query.targetsMs[name]} ms`)
  }
  console.log(`  (under ingest: ${query.backgroundNodeSnapshotsPerSecond} node-snapshots/s in the background, half the best ingest rate)`)
  console.log(`\nstorage (as stored, partitions at fillfactor 70, not VACUUM FULLed): ${storage.bytesPerHistoryPoint.toFixed(1)} B per history point, ` +
    `${storage.bytesPerHourlyPoint.toFixed(1)} B per hourly point, ${storage.bytesPerLatestRow.toFixed(0)} B per latest row, database ${mib(storage.databaseBytes)}`)
  console.log(`memory (peak RSS of the master): ${Object.entries(results.memory).map(([nodes, bytes]) => `${nodes} nodes ${mib(bytes)}`).join(', ')}`)
  console.log(`\ntwo masters against one (PostgreSQL + Redis, ${scaleOut.nodes} nodes, ${scaleOut.nodesPerSnapshot} per snapshot, ${scaleOut.concurrency} agents at once, ` +
    `INGEST_THREADS=${scaleOut.ingestThreadsPerMaster} each; best of ${scaleOut.runs.length / 3})`)
  const busy = (masters: number, redis: boolean) =>
    scaleOut.runs.filter((run) => run.masters === masters && run.redis === redis).map((run) => `${run.machineBusyPercent} %`).join(', ')
  console.log(`  one master                     ${String(scaleOut.oneMaster).padStart(8)} node-snapshots/s   machine busy ${busy(1, true)}`)
  console.log(`  two masters, half the agents   ${String(scaleOut.twoMasters).padStart(8)} node-snapshots/s   machine busy ${busy(2, true)}   ` +
    `ratio ${scaleOut.ratio} (≥ ${TARGETS.scaleOutRatio}: ${met(scaleOut.ratio >= TARGETS.scaleOutRatio)})`)
  console.log(`  one master without Redis       ${String(scaleOut.oneMasterWithoutRedis).padStart(8)} node-snapshots/s   machine busy ${busy(1, false)}`)
  const errors = scaleOut.runs.reduce((sum, run) => sum + run.errors, 0)
  if (errors > 0) console.log(`  errors: ${errors}`)
}
