/**
 * `bun bench/writer.ts [--nodes N] [--rounds R] [--repeat N] [--dir DIR] [--sizes 64,16,4,1]`:
 * the writer's `MetricsWriter.write` alone (no HTTP, no threads), in this one run:
 *
 * 1. rows/s with single-row history statements (K=1: the path before multi-row statements) and
 *    with multi-row ones, against the bare SQLite loop of bench/bare.ts on the same rows, 1,000
 *    rows per transaction as the bare loop commits them;
 * 2. how long a transaction takes by its size, with every node once in it and with each node many
 *    times (a writer catching up), which is what the writer actor's group commit bound
 *    (src/writer/actor.ts) is chosen from.
 *
 * Wall-clock rows/s is what counts, but on a shared machine it swings with the neighbours; rows
 * per CPU-second of this process (user + system) is the steadier figure for comparing paths. The
 * best of `repeat` runs, interleaved so a slow moment does not fall on one path only. A
 * micro-benchmark, not a test; `bun run bench` measures the whole master.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openWriteConnection } from '../src/storage/connection'
import { STATEMENT_ROWS } from '../src/storage/batch-upsert'
import { MetricsWriter, type WriteOptions } from '../src/storage/metrics-writer'
import type { NodeRow } from '../src/storage/node-rows'
import { bareUpserts } from './bare'
import { roundRows, workload } from './workload'

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '30' },
    repeat: { type: 'string', default: '3' },
    dir: { type: 'string' },
    sizes: { type: 'string' },
  },
})
const repeat = Number(args.repeat)
const multi: WriteOptions = { statementRows: args.sizes ? args.sizes.split(',').map(Number) : STATEMENT_ROWS }
const single: WriteOptions = { statementRows: [1] }
/** What bench/bare.ts commits at once. */
const ROWS_PER_TRANSACTION = 1000
const SETTINGS = { sampleIntervalMs: 300_000, retentionMs: 30 * 86_400_000, retentionHourlyMs: 365 * 86_400_000 }

const work = mkdtempSync(join(args.dir ?? tmpdir(), 'nmm-bench-writer-'))
let files = 0
const base = Date.now() - 30 * 60_000

/** One snapshot of every node a second, as agents posting every second would send them, after a first round that creates the nodes. */
function rowsOf(nodes: number, rounds: number) {
  const load = workload(nodes, 100)
  return { warm: roundRows(load, base), timed: Array.from({ length: rounds }, (_, r) => roundRows(load, base + (r + 1) * 1000)).flat() }
}

interface Rate {
  rowsPerSecond: number
  rowsPerCpuSecond: number
  msPerTransaction: number
}

/** Times `write` over `timed`, in transactions of `perTransaction` rows. */
function timeIt(timed: NodeRow[], perTransaction: number, write: (rows: NodeRow[]) => void): Rate {
  const cpu = process.cpuUsage()
  const started = performance.now()
  let transactions = 0
  for (let at = 0; at < timed.length; at += perTransaction, transactions++) write(timed.slice(at, at + perTransaction))
  const ms = performance.now() - started
  const { user, system } = process.cpuUsage(cpu)
  return { rowsPerSecond: (timed.length * 1000) / ms, rowsPerCpuSecond: (timed.length * 1e6) / (user + system), msPerTransaction: ms / transactions }
}

/** MetricsWriter.write on a fresh database. */
function writerRate(options: WriteOptions, rows: { warm: NodeRow[]; timed: NodeRow[] }, perTransaction = ROWS_PER_TRANSACTION): Rate {
  const db = openWriteConnection(join(work, `writer-${++files}.db`))
  const writer = new MetricsWriter(db, SETTINGS, options)
  writer.write(rows.warm)
  const rate = timeIt(rows.timed, perTransaction, (batch) => writer.write(batch))
  db.close()
  return rate
}

/** bench/bare.ts's loop, with this process's CPU time around it. */
function bareRate(rows: { warm: NodeRow[]; timed: NodeRow[] }): Rate {
  const cpu = process.cpuUsage()
  const { rowsPerSecond, seconds } = bareUpserts(join(work, `bare-${++files}.db`), rows.warm, rows.timed)
  const { user, system } = process.cpuUsage(cpu)
  // The CPU time includes the bare loop's warm-up round and its opening of the database: a little pessimistic.
  return { rowsPerSecond, rowsPerCpuSecond: (rows.timed.length * 1e6) / (user + system), msPerTransaction: (seconds * 1000 * ROWS_PER_TRANSACTION) / rows.timed.length }
}

const bestOf = (rates: Rate[]): Rate => ({
  rowsPerSecond: Math.max(...rates.map((rate) => rate.rowsPerSecond)),
  rowsPerCpuSecond: Math.max(...rates.map((rate) => rate.rowsPerCpuSecond)),
  msPerTransaction: Math.min(...rates.map((rate) => rate.msPerTransaction)),
})
const pad = (value: number, width = 9) => String(Math.round(value)).padStart(width)

// 1. The write path against the bare loop.
const same = rowsOf(Number(args.nodes), Number(args.rounds))
console.log(`bun ${Bun.version}; ${same.timed.length} rows (${args.nodes} nodes × ${args.rounds} rounds), ${ROWS_PER_TRANSACTION} per transaction, best of ${repeat}`)
const paths = [
  ['bare loop (bench/bare.ts)', () => bareRate(same)],
  ['write(), single-row statements', () => writerRate(single, same)],
  [`write(), multi-row (${multi.statementRows!.join('/')})`, () => writerRate(multi, same)],
] as const
const runs: Rate[][] = paths.map(() => [])
for (let r = 0; r < repeat; r++) paths.forEach(([, measure], index) => runs[index]!.push(measure()))
const results = runs.map(bestOf)
console.log(`${''.padEnd(40)}    rows/s   ×bare   rows/CPU-s   ×bare`)
paths.forEach(([label], index) => {
  const rate = results[index]!
  console.log(`  ${label.padEnd(38)} ${pad(rate.rowsPerSecond)} ${(rate.rowsPerSecond / results[0]!.rowsPerSecond).toFixed(2).padStart(7)} ` +
    `${pad(rate.rowsPerCpuSecond, 12)} ${(rate.rowsPerCpuSecond / results[0]!.rowsPerCpuSecond).toFixed(2).padStart(7)}`)
})

// 2. Transaction size against its time: what the group commit bound is chosen from.
const SIZES = [100, 300, 1_000, 3_000, 10_000, 30_000]
const shapes = [
  // Every node once per transaction: each row costs its latest row's page.
  ['every node once', rowsOf(30_000, 2)],
  // 1,000 nodes, each in up to 30 rows of a transaction: a node's latest row is written once per transaction.
  ['each node ≤ 30 times', rowsOf(1_000, 30)],
] as const
console.log('\ntransaction rows        ms/transaction      rows/s   rows/CPU-s   (multi-row)')
for (const [name, rows] of shapes) {
  console.log(`  ${name}`)
  for (const size of SIZES) {
    const rate = bestOf(Array.from({ length: repeat }, () => writerRate(multi, rows, size)))
    console.log(`  ${String(size).padStart(14)} ${rate.msPerTransaction.toFixed(1).padStart(18)} ${pad(rate.rowsPerSecond, 11)} ${pad(rate.rowsPerCpuSecond, 12)}`)
  }
}
rmSync(work, { recursive: true, force: true })
