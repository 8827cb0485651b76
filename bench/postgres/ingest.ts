import { readFileSync } from 'node:fs'
import { spawnMaster, type MasterProcess } from '../../test/support/master-process'
import { closedLoop } from '../http-load'
import { round, roundRows, workload } from '../workload'
import { bareUpserts } from './bare'
import { busyWhile } from './busy'
import type { BenchServer } from './server'

export interface IngestFigures {
  nodes: number
  nodesPerSnapshot: number
  concurrency: number
  nodeSnapshots: number
  errors: number
  ackPerSecond: number
  bareRowsPerSecond: number
  ratio: number
  peakRssBytes: number
  /** the whole machine's busy share of its cores while the master's timed rounds ran, and while the bare loop's did, % */
  machineBusyPercent: { master: number; bare: number }
}

export function peakRssBytes(master: MasterProcess): number {
  const status = readFileSync(`/proc/${master.proc.pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
}

export async function stopMaster(master: MasterProcess): Promise<void> {
  master.proc.kill('SIGTERM')
  await master.proc.exited
}

/**
 * Ingest as bench/run.ts measures it on SQLite — acknowledged node-snapshots/s of agents posting
 * gzipped snapshots in a closed loop over HTTP, a warm-up round first — against a master on a
 * fresh PostgreSQL database, then the bare loop (bench/postgres/bare.ts) on another fresh one with
 * the same rows.
 */
export async function measureIngest(server: BenchServer, total: number, perSnapshot: number, timedNodes: number, log: (line: string) => void): Promise<IngestFigures> {
  const load = workload(total, perSnapshot)
  const rounds = Math.max(1, Math.ceil(timedNodes / load.nodeCount))
  const base = Date.now() - 30 * 60_000
  log(`ingest ${total} nodes, ${perSnapshot} per snapshot: preparing ${rounds + 1} rounds`)
  const warm = round(load, base)
  const timed = Array.from({ length: rounds }, (_, r) => round(load, base + (r + 1) * 1000)).flat()
  const concurrency = Math.min(load.clusters.length, 32)

  const masterDatabase = await server.database(`ingest_${total}_${perSnapshot}`)
  const master = await spawnMaster({ DATABASE_URL: masterDatabase })
  const warmResult = await closedLoop(master.ingest, warm, concurrency)
  const { result, busyPercent: masterBusy } = await busyWhile(() => closedLoop(master.ingest, timed, concurrency))
  const rss = peakRssBytes(master)
  await stopMaster(master)
  await server.drop(masterDatabase)
  const errors = warmResult.errors + result.errors
  if (errors > 0) log(`  errors: ${errors} (last: ${result.lastError ?? warmResult.lastError})`)

  const warmRows = roundRows(load, base)
  const timedRows = Array.from({ length: rounds }, (_, r) => roundRows(load, base + (r + 1) * 1000)).flat()
  const bareDatabase = await server.database(`bare_${total}_${perSnapshot}`)
  const bare = await bareUpserts(bareDatabase, warmRows, timedRows)
  await server.drop(bareDatabase)
  const perSecond = result.acknowledgedNodes / result.seconds
  const figures: IngestFigures = {
    nodes: total, nodesPerSnapshot: perSnapshot, concurrency, nodeSnapshots: result.acknowledgedNodes, errors,
    ackPerSecond: Math.round(perSecond), bareRowsPerSecond: Math.round(bare.rowsPerSecond),
    ratio: Number((perSecond / bare.rowsPerSecond).toFixed(2)), peakRssBytes: rss,
    machineBusyPercent: { master: masterBusy, bare: bare.busyPercent },
  }
  log(`  ${figures.ackPerSecond} node-snapshots/s acknowledged; bare ${figures.bareRowsPerSecond} rows/s; ratio ${figures.ratio}; peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB; machine busy ${masterBusy} % (master), ${bare.busyPercent} % (bare)`)
  return figures
}
