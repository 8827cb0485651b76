import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

setDefaultTimeout(120_000)

// A fast smoke of `bun run bench --alerts --quick`: both variants run and the figures are written.
// The ratio itself is judged in the README from a full run on a quiet machine, never here.
test('bun run bench --alerts --quick measures ingest with 1,000 rules against none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-bench-alerts-smoke-'))
  try {
    const out = join(dir, 'alerts.json')
    const run = Bun.spawnSync(['bun', 'run', 'bench', '--alerts', '--quick', '--out', out], { cwd: join(import.meta.dir, '..') })
    expect(run.exitCode).toBe(0)
    const results = JSON.parse(readFileSync(out, 'utf8'))
    expect(results.mode).toBe('quick')
    const [row] = results.ingest
    expect(row.runs.map((run: { rules: string }) => run.rules)).toEqual(['none', '1000'])
    for (const measured of row.runs) {
      expect(measured.ackPerSecond).toBeGreaterThan(0)
      expect(measured.errors).toBe(0)
    }
    expect(row.ratio).toBeGreaterThan(0)
    expect(row.transitions).toBeGreaterThan(0) // the rules were judged: some fired
    expect(run.stdout.toString()).toContain('ingest with 1,000 alert rules against none')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
