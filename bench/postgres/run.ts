/**
 * `bun run bench --store postgres [--quick] [--out FILE]`: the master on PostgreSQL, in one run on
 * this machine — ingest against the bare limit of Bun's SQL client on the same rows, query latency
 * alone and under ingest on a pre-filled database, storage per point, and two masters on one
 * PostgreSQL and Redis against one. The server runs beside the master (same cores), with
 * PostgreSQL's default durability. Results go to bench/results/postgres.json unless --out says.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname } from 'node:path'
import { startRedis } from '../../test/support/engines'
import { spawnMaster } from '../../test/support/master-process'
import { paced } from '../http-load'
import { QUERY_TARGETS_MS, queryLatency } from '../query-latency'
import { round, workload } from '../workload'
import { measureIngest, peakRssBytes, stopMaster, type IngestFigures } from './ingest'
import { prefillPostgres, storageFigures } from './prefill'
import { printReport, TARGETS } from './report'
import { scaleOut } from './scale-out'
import { startBenchServer } from './server'

export async function runPostgresBench(options: { quick: boolean; out?: string }): Promise<void> {
  const quick = options.quick
  const out = options.out ?? 'bench/results/postgres.json'
  const plan = quick
    ? { totals: [1_000], perSnapshot: [10, 100], timedNodes: 5_000, queryNodes: 100, queryDays: 2, samples: 40, scaleOut: { nodes: 1_000, nodesPerSnapshot: 100, timedNodes: 5_000, repeat: 1 } }
    : { totals: [1_000, 10_000, 100_000], perSnapshot: [10, 100], timedNodes: 100_000, queryNodes: 1_000, queryDays: 30, samples: 400, scaleOut: { nodes: 10_000, nodesPerSnapshot: 100, timedNodes: 100_000, repeat: 2 } }
  const log = (line: string) => console.log(`[bench] ${line}`)

  const [server, redis] = await Promise.all([startBenchServer(), startRedis()])
  try {
    const settings = await server.settings()
    log(`PostgreSQL ${settings.version}: fsync ${settings.fsync}, synchronous_commit ${settings.synchronousCommit}, shared_buffers ${settings.sharedBuffers}`)

    // 1. Ingest against the bare limit.
    const ingest: IngestFigures[] = []
    for (const total of plan.totals) {
      for (const perSnapshot of plan.perSnapshot) ingest.push(await measureIngest(server, total, perSnapshot, plan.timedNodes, log))
    }

    // 2. Query latency on a pre-filled database, alone and under ingest; storage per point.
    log(`query: pre-filling ${plan.queryDays} days × ${plan.queryNodes} nodes of history`)
    const queryDatabase = await server.database('query')
    const prefillStarted = performance.now()
    const filled = await prefillPostgres(queryDatabase, 'q-', plan.queryNodes, plan.queryDays)
    const prefillSeconds = (performance.now() - prefillStarted) / 1000
    const storage = await storageFigures(queryDatabase)
    log(`  ${filled.points} points in ${prefillSeconds.toFixed(0)} s; ${storage.bytesPerHistoryPoint.toFixed(1)} B/history point, ${storage.bytesPerLatestRow.toFixed(0)} B/latest row`)
    const master = await spawnMaster({ DATABASE_URL: queryDatabase })
    const { names: queryNames, latencies } = queryLatency(master, filled)
    const alone = await latencies(plan.samples)
    log(`  alone: ${JSON.stringify(alone)}`)
    const maxRate = Math.max(...ingest.map((row) => row.ackPerSecond))
    const background = workload(quick ? 1_000 : 10_000, 100, 'load-')
    const backgroundBase = Date.now() - 20 * 60_000
    const prepared = Array.from({ length: quick ? 20 : 40 }, (_, r) => round(background, backgroundBase + r * 1000))
    const backgroundLoad = paced(master.ingest, (index) => prepared[index % prepared.length]!, maxRate / 2)
    const loaded = await latencies(plan.samples)
    // Copied at the stop: posts still in flight are cut when the master stops, which is no error of the load's.
    const achieved = { ...(await backgroundLoad.stop()) }
    const queryRss = peakRssBytes(master)
    await stopMaster(master)
    await server.drop(queryDatabase)
    const backgroundRate = Math.round(achieved.acknowledgedNodes / achieved.seconds)
    log(`  under ingest at ${backgroundRate} node-snapshots/s: ${JSON.stringify(loaded)}`)

    // 3. Two masters against one.
    const scale = await scaleOut(server, redis.url, plan.scaleOut, log)

    const results = {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      store: 'postgres',
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryBytes: totalmem(), bun: Bun.version,
        kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
      },
      postgres: { ...settings, note: 'the same machine as the master and the load; default durability (every commit flushed)' },
      targets: TARGETS,
      ingest,
      query: {
        nodes: plan.queryNodes, days: plan.queryDays, prefillSeconds: Math.round(prefillSeconds), alone, underIngest: loaded,
        targetsMs: QUERY_TARGETS_MS, backgroundNodeSnapshotsPerSecond: backgroundRate, backgroundErrors: achieved.errors, peakRssBytes: queryRss,
      },
      storage,
      scaleOut: scale,
      memory: Object.fromEntries(plan.totals.map((total) => [total, Math.max(...ingest.filter((row) => row.nodes === total).map((row) => row.peakRssBytes))])),
    }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
    printReport(results, queryNames)
    console.log(`\nwritten to ${out}`)
  } finally {
    await Promise.all([server.stop(), redis.stop()])
  }
}
