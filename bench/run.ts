/**
 * `bun run bench [--quick] [--peer] [--out FILE]`: ingest throughput against the bare SQLite limit,
 * query latency alone and under load, agents' acknowledgement latency while dashboards read a
 * 1,000-node cluster, storage per row, and the master's peak memory — all measured in this one
 * run, on this machine. `--peer` measures VictoriaMetrics beside it (bench/peer/victoria.ts).
 * `--store postgres` measures the master on PostgreSQL instead (bench/postgres/run.ts); `--alerts`
 * ingest with 1,000 alert rules against none (bench/alerts/run.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { spawnMaster, type MasterProcess } from '../test/support/master-process'
import { acceptCost } from './accept'
import { bareUpserts } from './bare'
import { closedLoop, paced } from './http-load'
import { prefill, storageFigures } from './prefill'
import { ackReport, ackUnderReaders } from './readers'
import { round, roundRows, workload } from './workload'
import { QUERY_TARGETS_MS, queryLatency } from './query-latency'
import { peerTable, victoriaPeer } from './peer/victoria'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    peer: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/latest.json' },
    store: { type: 'string', default: 'sqlite' },
    alerts: { type: 'boolean', default: false },
  },
})
const outGiven = process.argv.some((arg) => arg === '--out' || arg.startsWith('--out='))
if (args.alerts) {
  // Its own run: ingest with 1,000 alert rules against none (bench/results/alerts.json unless --out says otherwise).
  const { runAlertsBench } = await import('./alerts/run')
  await runAlertsBench({ quick: args.quick, out: outGiven ? args.out : undefined })
  process.exit(0)
}
if (args.store === 'postgres') {
  // Its own run, with its own results file (bench/results/postgres.json unless --out says otherwise).
  if (args.peer) throw new Error('--peer: measured beside the SQLite run only')
  const { runPostgresBench } = await import('./postgres/run')
  await runPostgresBench({ quick: args.quick, out: outGiven ? args.out : undefined })
  process.exit(0)
}
if (args.store !== 'sqlite') throw new Error(`--store: sqlite (the default) or postgres, not ${args.store}`)
const quick = args.quick
const plan = quick
  ? { totals: [1_000], perSnapshot: [10, 100], timedNodes: 5_000, queryNodes: 100, queryDays: 2, samples: 40 }
  : { totals: [1_000, 10_000, 100_000], perSnapshot: [10, 100], timedNodes: 100_000, queryNodes: 1_000, queryDays: 30, samples: 400 }

const work = mkdtempSync(join(tmpdir(), 'nmm-bench-'))
const log = (line: string) => console.log(`[bench] ${line}`)
const peer = args.peer ? victoriaPeer(log) : undefined

function peakRssBytes(master: MasterProcess): number {
  const status = readFileSync(`/proc/${master.proc.pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
}

async function stop(master: MasterProcess) {
  master.proc.kill('SIGTERM')
  await master.proc.exited
}

// 0. The ingest thread's own work per snapshot: nodes stored as slices of the body, against re-serialising them.
const accept = [10, 100].map((perSnapshot) => acceptCost(perSnapshot, quick ? 200 : perSnapshot === 10 ? 5_000 : 500))
for (const row of accept) {
  log(`accept ${row.nodesPerSnapshot} nodes per snapshot: ${row.acceptMicrosPerSnapshot} µs; node JSON sliced ${row.nodeJsonSlicedMicros} µs, re-serialised ${row.nodeJsonReserialisedMicros} µs (×${row.ratio})`)
}

// 1. Ingest throughput against the bare limit.
const ingest: Record<string, unknown>[] = []
for (const total of plan.totals) {
  for (const perSnapshot of plan.perSnapshot) {
    const dir = join(work, `ingest-${total}-${perSnapshot}`)
    mkdirSync(dir)
    const load = workload(total, perSnapshot)
    const rounds = Math.max(1, Math.ceil(plan.timedNodes / load.nodeCount))
    const base = Date.now() - 30 * 60_000
    log(`ingest ${total} nodes, ${perSnapshot} per snapshot: preparing ${rounds + 1} rounds`)
    const warm = round(load, base)
    const timed = Array.from({ length: rounds }, (_, r) => round(load, base + (r + 1) * 1000)).flat()
    const concurrency = Math.min(load.clusters.length, 32)

    const master = await spawnMaster({ DB_PATH: join(dir, 'master.db') })
    const warmResult = await closedLoop(master.ingest, warm, concurrency)
    const result = await closedLoop(master.ingest, timed, concurrency)
    const rss = peakRssBytes(master)
    await stop(master)
    if (warmResult.errors + result.errors > 0) log(`  errors: ${warmResult.errors + result.errors} (last: ${result.lastError ?? warmResult.lastError})`)

    const warmRows = roundRows(load, base)
    const timedRows = Array.from({ length: rounds }, (_, r) => roundRows(load, base + (r + 1) * 1000)).flat()
    const bare = bareUpserts(join(dir, 'bare.db'), warmRows, timedRows)
    const perSecond = result.acknowledgedNodes / result.seconds
    // What the master must hold at the least: every node's newest snapshot as its agent sent it.
    const newestSnapshotBytes = load.clusters.reduce((total, cluster) =>
      total + cluster.nodes.reduce((sum, node) => sum + Buffer.byteLength(`${node.head}${base}${node.tail}`), 0), 0)
    ingest.push({
      nodes: total, nodesPerSnapshot: perSnapshot, concurrency, nodeSnapshots: result.acknowledgedNodes, errors: result.errors,
      ackPerSecond: Math.round(perSecond), bareRowsPerSecond: Math.round(bare.rowsPerSecond),
      ratio: Number((perSecond / bare.rowsPerSecond).toFixed(2)), peakRssBytes: rss,
      newestSnapshotBytes, rssTargetBytes: Math.round(1.5 * newestSnapshotBytes + 100 * 2 ** 20),
    })
    log(`  ${Math.round(perSecond)} node-snapshots/s acknowledged; bare ${Math.round(bare.rowsPerSecond)} rows/s; ratio ${(perSecond / bare.rowsPerSecond).toFixed(2)}; peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB`)
    rmSync(dir, { recursive: true, force: true })
    await peer?.ingest({ load, nodes: total, nodesPerSnapshot: perSnapshot, base, rounds, concurrency })
  }
}

// 2 and 3. Query latency on a pre-filled database, alone and under ingest; storage per row.
const queryDir = join(work, 'query')
mkdirSync(queryDir)
const dbPath = join(queryDir, 'master.db')
log(`query: pre-filling ${plan.queryDays} days × ${plan.queryNodes} nodes of history`)
const filled = prefill(dbPath, 'q-', plan.queryNodes, plan.queryDays)
const storage = storageFigures(dbPath, join(queryDir, 'vacuumed.db'))
log(`  ${filled.points} points; ${storage.bytesPerHistoryPoint.toFixed(1)} B/history point, ${storage.bytesPerLatestRow.toFixed(0)} B/latest row`)

const master = await spawnMaster({ DB_PATH: dbPath })
const { names: queryNames, pick, latencies } = queryLatency(master, filled)
const targetsMs = QUERY_TARGETS_MS

const alone = await latencies(plan.samples)
log(`  alone: ${JSON.stringify(alone)}`)
const maxRate = Math.max(...ingest.map((row) => row.ackPerSecond as number))
const background = workload(quick ? 1_000 : 10_000, 100, 'load-')
const backgroundBase = Date.now() - 20 * 60_000
const prepared = Array.from({ length: quick ? 20 : 40 }, (_, r) => round(background, backgroundBase + r * 1000))
const backgroundLoad = paced(master.ingest, (index) => prepared[index % prepared.length]!, maxRate / 2)
const loaded = await latencies(plan.samples)
const achieved = await backgroundLoad.stop()
const queryRss = peakRssBytes(master)
await stop(master)
log(`  under ingest at ${Math.round(achieved.acknowledgedNodes / achieved.seconds)} node-snapshots/s: ${JSON.stringify(loaded)}`)

// 4. Agents' acknowledgement latency with no readers, then 20 closed-loop readers of a 1,000-node cluster's node list.
const ackReaders = await ackUnderReaders(quick ? 4 : 20, log)

// With --peer: VictoriaMetrics on the query bench's history, the master stopped: its storage and the same history queries.
await peer?.history({ clusterId: filled.clusterId, nodeNames: filled.nodeNames, days: plan.queryDays, samples: plan.samples, pick })

// 5. Report.
const cpuModel = cpus()[0]?.model ?? 'unknown'
const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine: { cpu: cpuModel, cores: cpus().length, memoryBytes: totalmem(), bun: Bun.version, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() },
  accept,
  ingest,
  query: {
    nodes: plan.queryNodes, days: plan.queryDays, alone, underIngest: loaded, targetsMs,
    backgroundNodeSnapshotsPerSecond: Math.round(achieved.acknowledgedNodes / achieved.seconds),
    backgroundErrors: achieved.errors, peakRssBytes: queryRss,
  },
  ackUnderReaders: ackReaders,
  storage,
  memory: Object.fromEntries(plan.totals.map((total) => [total, Math.max(...ingest.filter((row) => row.nodes === total).map((row) => row.peakRssBytes as number))])),
  peer: peer?.results({ ingest: ingest as { nodes: number; nodesPerSnapshot: number; ackPerSecond: number }[], bytesPerHistoryPoint: storage.bytesPerHistoryPoint, alone }),
}
mkdirSync(dirname(args.out), { recursive: true })
writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`)
rmSync(work, { recursive: true, force: true })

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
console.log(`\nmachine: ${cpuModel}, ${cpus().length} cores, ${mib(totalmem())}, bun ${Bun.version}${quick ? '  (QUICK: small sizes, not the figures to quote)' : ''}\n`)
console.log('ingest thread, per snapshot (one core, no I/O)       accept µs   node JSON: sliced µs   re-serialised µs   ratio')
for (const row of accept) {
  console.log(`  ${String(row.nodesPerSnapshot).padStart(3)} nodes per snapshot (${(row.bodyBytes / 1024).toFixed(0)} KiB)              ${String(row.acceptMicrosPerSnapshot).padStart(9)} ` +
    `${String(row.nodeJsonSlicedMicros).padStart(22)} ${String(row.nodeJsonReserialisedMicros).padStart(18)} ${String(row.ratio).padStart(7)}`)
}
console.log('\ningest (HTTP, gzip, commit before answer)     ack node-snapshots/s   bare rows/s   ratio   peak RSS')
for (const row of ingest) {
  console.log(`  ${String(row.nodes).padStart(6)} nodes, ${String(row.nodesPerSnapshot).padStart(3)} per snapshot, ${String(row.concurrency).padStart(2)} agents at once ` +
    `${String(row.ackPerSecond).padStart(10)} ${String(row.bareRowsPerSecond).padStart(13)} ${String(row.ratio).padStart(7)}   ${mib(row.peakRssBytes as number)}`)
}
console.log(`\nquery latency, ${plan.queryNodes}-node cluster, ${plan.queryDays} d history     alone p50/p99 ms      under ingest p50/p99 ms   target p99`)
for (const name of queryNames) {
  console.log(`  ${name.padEnd(40)} ${`${alone[name]!.p50} / ${alone[name]!.p99}`.padStart(18)} ${`${loaded[name]!.p50} / ${loaded[name]!.p99}`.padStart(24)}   ≤ ${targetsMs[name]} ms`)
}
console.log(`\n${ackReport(ackReaders)}`)
console.log(`\nstorage (VACUUMed): ${storage.bytesPerHistoryPoint.toFixed(1)} B per history point (target ≤ 12), ` +
  `${storage.bytesPerHourlyPoint.toFixed(1)} B per hourly point, ${storage.bytesPerLatestRow.toFixed(0)} B per latest row, file ${mib(storage.fileBytes)}`)
console.log(`memory (peak RSS of the master): ${Object.entries(results.memory).map(([nodes, bytes]) => `${nodes} nodes ${mib(bytes)}`).join(', ')}`)
for (const total of plan.totals) {
  const row = ingest.find((candidate) => candidate.nodes === total)!
  console.log(`  ${total} nodes: newest snapshots ${mib(row.newestSnapshotBytes as number)} raw; target ≤ 1.5 × that + 100 MB = ${mib(row.rssTargetBytes as number)}`)
}
if (results.peer) console.log(`\n${peerTable(results.peer)}`)
console.log(`\nwritten to ${args.out}`)
