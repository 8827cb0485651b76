import { expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VICTORIA_BIN } from '../bench/peer/victoria-process'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

// A fast smoke of `bun run bench --quick --peer`: every section runs and reports figures. The
// figures themselves are judged in the README from a full run, never here. VictoriaMetrics (the
// peer) is measured where it is installed and skipped, with a word, where it is not (as in CI).
test('bun run bench --quick --peer runs every section and writes its figures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-bench-smoke-'))
  try {
    const out = join(dir, 'quick.json')
    const run = Bun.spawnSync(['bun', 'run', 'bench', '--quick', '--peer', '--out', out], { cwd: join(import.meta.dir, '..') })
    expect(run.exitCode).toBe(0)
    const results = JSON.parse(readFileSync(out, 'utf8'))
    expect(results.mode).toBe('quick')
    expect(results.accept.map((row: { nodesPerSnapshot: number }) => row.nodesPerSnapshot)).toEqual([10, 100])
    for (const row of results.accept) expect(row.nodeJsonSlicedMicros).toBeGreaterThan(0)
    expect(results.ingest).toHaveLength(2)
    for (const row of results.ingest) {
      expect(row.ackPerSecond).toBeGreaterThan(0)
      expect(row.bareRowsPerSecond).toBeGreaterThan(0)
      expect(row.errors).toBe(0)
    }
    for (const section of [results.query.alone, results.query.underIngest]) {
      expect(Object.keys(section).sort()).toEqual(['history24h', 'history30d', 'nodeDetail', 'nodeList', 'nodeListAfterCommit'])
    }
    for (const phase of [results.ackUnderReaders.none, results.ackUnderReaders.withReaders, results.ackUnderReaders.withNaiveReaders]) {
      expect(phase.ack.count).toBeGreaterThan(0)
      expect(phase.ack.errors).toBe(0)
    }
    expect(results.ackUnderReaders.withReaders.readerFigures.count).toBeGreaterThan(0)
    expect(results.ackUnderReaders.ratio).toBeGreaterThan(0)
    expect(results.ackUnderReaders.withReaders.readerFigures.notModified).toBeGreaterThan(0) // they revalidate
    expect(results.ackUnderReaders.withNaiveReaders.readerFigures.notModified).toBe(0)
    expect(results.storage.bytesPerHistoryPoint).toBeGreaterThan(0)
    expect(results.memory['1000']).toBeGreaterThan(0)
    expect(run.stdout.toString()).toContain('ratio')
    if (existsSync(VICTORIA_BIN)) {
      expect(results.peer.ingest.map((row: { nodesPerSnapshot: number }) => row.nodesPerSnapshot)).toEqual([10, 100])
      for (const row of results.peer.ingest) {
        expect(row.ackPerSecond).toBeGreaterThan(0)
        expect(row.errors).toBe(0)
      }
      expect(results.peer.storage.rounded.bytesPerPoint).toBeGreaterThan(0)
      expect(results.peer.storage.fullPrecision.bytesPerPoint).toBeGreaterThan(0)
      expect(results.peer.query.seriesPerAnswer).toBe(18) // every figure's average and peak, as the master's history
      expect(Object.keys(results.peer.query.alone).sort()).toEqual(['history24h', 'history30d'])
      expect(results.peer.comparison).toHaveLength(8)
      expect(run.stdout.toString()).toContain('side by side with VictoriaMetrics')
    } else {
      expect(results.peer).toBeUndefined()
      expect(run.stdout.toString()).toContain('VictoriaMetrics skipped')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)

test('without VictoriaMetrics installed the peer is skipped with a word, not failed', () => {
  const run = Bun.spawnSync(['bun', 'bench/peer/victoria.ts', '--quick', '--out', join(tmpdir(), 'nmm-never-written.json')], {
    cwd: join(import.meta.dir, '..'),
    env: { ...process.env, VICTORIA_METRICS_BIN: join(tmpdir(), 'no-such-victoria-metrics') },
  })
  expect(run.exitCode).toBe(0)
  expect(run.stdout.toString()).toContain('VictoriaMetrics skipped')
})
