import { FIGURES } from '../../src/model/figures'
import type { NodeRow } from '../../src/storage/node-rows'

/** History fixtures for the chunk tests: a 5-minute raw tier (day chunks), an hourly tier (week chunks). */

export const MINUTE = 60_000
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR
/** A Thursday 00:00 UTC: day chunks and week chunks (epoch-aligned) both start here. */
export const T0 = Date.UTC(2026, 9, 1)
export const SETTINGS = { sampleIntervalMs: 5 * MINUTE, retentionMs: 400 * DAY, retentionHourlyMs: 800 * DAY }

const figure = (key: string) => FIGURES.findIndex((candidate) => candidate.key === key)

/**
 * A node's sample at `ts`, with the awkward parts of real data: values that round at .5, negative
 * temperatures, figures missing from some samples, a figure (load) that only appears at noon of
 * the second day, node `n-nosensor` that never has a temperature, and 10-digit byte rates.
 */
export function sample(node: string, ts: number, seq: number): NodeRow {
  const values: (number | null)[] = FIGURES.map(() => null)
  const wave = Math.sin(ts / 7_777_777 + node.length)
  values[figure('cpu')] = Math.round((50 + 45 * wave) * 1000) / 1000 + (seq % 7 === 0 ? 0.005 : 0)
  values[figure('mem')] = seq % 11 === 3 ? null : 40 + (seq % 5) * 0.125
  values[figure('disk')] = 70 + (ts - T0) / DAY
  values[figure('temp')] = node === 'n-nosensor' || seq % 4 === 1 ? null : -5.25 + 30 * wave
  values[figure('net_rx')] = Math.round(3e9 * (1.1 + wave)) + (seq % 3)
  values[figure('net_tx')] = Math.round(1e6 * (1.1 + wave))
  values[figure('disk_read')] = seq % 2 ? 0 : 12_345
  values[figure('disk_write')] = seq % 13 === 0 ? null : 999_999_999_999
  values[figure('load1')] = ts < T0 + DAY + 12 * HOUR ? null : 0.5 + seq * 0.01
  return {
    cluster: 'c', node, snapshotMs: ts, values, json: Buffer.from(`{"node_name":"${node}"}`),
    cores: 2, memTotal: null, memUsed: null, diskMax: null, diskMaxMount: null, diskTotal: null, diskUsed: null,
  }
}

/** Samples of `nodes` from `fromMs` to `toMs`, one to three per 5-minute bucket, in time order. */
export function samples(nodes: readonly string[], fromMs: number, toMs: number): NodeRow[] {
  const rows: NodeRow[] = []
  let seq = 0
  for (let ts = fromMs; ts < toMs; ts += 5 * MINUTE) {
    for (const node of nodes) {
      const count = 1 + (seq % 3)
      for (let k = 0; k < count; k++) rows.push(sample(node, ts + k * 61_000 + 7_000, seq++))
    }
  }
  return rows
}
