import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { historySeries } from '../bench/peer/history'
import { prefill } from '../bench/prefill'
import { FIGURES } from '../src/model/figures'
import { spawnMaster } from './support/master-process'

// Real master process on a real database.
setDefaultTimeout(30_000)

const BUCKET_MS = 300_000

// bench/peer/history.ts repeats bench/prefill.ts's formula so that VictoriaMetrics stores the very
// history the master's storage bench stores: what the master answers for a prefilled node must be
// what the peer is sent.
test("the peer's history is the prefilled history the master answers", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-peer-history-'))
  try {
    const before = Date.now()
    const filled = prefill(join(dir, 'master.db'), 'q-', 3, 1)
    // prefill's latest rows (a minute old) went through the writer, which kept their own bucket.
    const written = new Set([before, Date.now()].map((ms) => Math.floor((ms - 60_000) / BUCKET_MS) * BUCKET_MS))
    const master = await spawnMaster({ DB_PATH: join(dir, 'master.db') })
    try {
      const index = 1 // the second node: its row id is 2
      const response = await fetch(`${master.api}/api/v2/clusters/${filled.clusterId}/node-metrics/${filled.nodeNames[index]}/history?hours=24`)
      expect(response.status).toBe(200)
      const answered = ((await response.json()) as { history: Record<string, number>[] }).history
      // The newest bucket is prefill's "now" (the writer's is never after it).
      const series = historySeries(index + 1, 1, Math.max(...answered.map((point) => point.timestamp!)), true)
      const points = answered.filter((point) => !written.has(point.timestamp!))
      expect(points.length).toBeGreaterThan(280)
      for (const point of points) {
        const at = series.timestamps.indexOf(point.timestamp!)
        expect(at).toBeGreaterThanOrEqual(0)
        FIGURES.forEach((figure, figureIndex) => {
          expect(point[figure.field]).toBeCloseTo(series.averages[figureIndex]![at]!, 6)
          expect(point[`${figure.field}_max`]).toBeCloseTo(series.peaks[figureIndex]![at]!, 6)
        })
      }
    } finally {
      master.proc.kill('SIGTERM')
      await master.proc.exited
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
