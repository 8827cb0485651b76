import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { engineOrSkip } from './support/engines'

// A PostgreSQL, a Redis and a dozen master processes: far past bun's 5 s.
setDefaultTimeout(30_000)

const ready = engineOrSkip('postgres') && engineOrSkip('redis')
const repository = join(import.meta.dir, '..')

// A fast smoke of `bun run bench --store postgres --quick`: every section runs and reports figures,
// without an error, into its own file. The figures themselves are judged from a full run, never here.
test.skipIf(!ready)('bun run bench --store postgres --quick runs every section and writes its figures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-bench-pg-smoke-'))
  const sqliteResults = readFileSync(join(repository, 'bench/results/latest.json'), 'utf8')
  try {
    const out = join(dir, 'quick.json')
    const run = Bun.spawnSync(['bun', 'run', 'bench', '--store', 'postgres', '--quick', '--out', out], { cwd: repository })
    try {
      checkFigures(run, out)
    } catch (error) {
      // What the run printed, to tell why.
      console.error(run.stdout.toString(), run.stderr.toString())
      throw error
    }
    // The SQLite run's figures stay as they were.
    expect(readFileSync(join(repository, 'bench/results/latest.json'), 'utf8')).toBe(sqliteResults)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)

/** Every section of the run produced figures, without an error, into `out`. */
function checkFigures(run: { exitCode: number | null; stdout: Buffer }, out: string) {
  expect(run.exitCode).toBe(0)
  const results = JSON.parse(readFileSync(out, 'utf8'))
  expect(results.mode).toBe('quick')
  expect(results.store).toBe('postgres')
  expect(results.postgres.fsync).toBe('on')
  expect(results.ingest.map((row: { nodesPerSnapshot: number }) => row.nodesPerSnapshot)).toEqual([10, 100])
  for (const row of results.ingest) {
    expect(row.ackPerSecond).toBeGreaterThan(0)
    expect(row.bareRowsPerSecond).toBeGreaterThan(0)
    expect(row.ratio).toBeGreaterThan(0)
    expect(row.errors).toBe(0)
  }
  for (const section of [results.query.alone, results.query.underIngest]) {
    expect(Object.keys(section).sort()).toEqual(['history24h', 'history30d', 'nodeDetail', 'nodeList', 'nodeListAfterCommit'])
    for (const figures of Object.values(section) as { p50: number; p99: number }[]) expect(figures.p99).toBeGreaterThan(0)
  }
  expect(results.query.backgroundNodeSnapshotsPerSecond).toBeGreaterThan(0)
  expect(results.query.backgroundErrors).toBe(0)
  expect(results.storage.bytesPerHistoryPoint).toBeGreaterThan(0)
  expect(results.scaleOut.runs.map((row: { masters: number; redis: boolean }) => [row.masters, row.redis])).toEqual([[1, true], [2, true], [1, false]])
  for (const row of results.scaleOut.runs) {
    expect(row.ackPerSecond).toBeGreaterThan(0)
    expect(row.errors).toBe(0)
  }
  expect(results.scaleOut.ratio).toBeGreaterThan(0)
  const stdout = run.stdout.toString()
  expect(stdout).toContain('two masters against one')
  expect(stdout).toContain(`written to ${out}`)
}
