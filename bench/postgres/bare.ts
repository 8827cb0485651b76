import { SQL } from 'bun'
import { LATEST_EXTRAS } from '../../src/model/figures'
import { encodeValues } from '../../src/storage/history-encoding'
import type { NodeRow } from '../../src/storage/node-rows'
import { concatBytes } from '../../src/storage/node-rows'
import { openPostgresWriteStore } from '../../src/storage/postgres'
import { Partitions } from '../../src/storage/postgres/partitions'
import { INSERT_IDENTITIES, LATEST_PARAMS, UPSERT_LATEST, upsertHistory } from '../../src/storage/postgres/statements'
import { bucketsOf } from '../../src/storage/postgres/write-plan'
import { busyWhile } from './busy'
import { historyTiers, type TierSettings } from '../../src/storage/tiers'

const ROWS_PER_TRANSACTION = 1000

/** The master's defaults (SAMPLE_INTERVAL 5m, RETENTION 30d, RETENTION_HOURLY 365d). */
export const DEFAULT_TIERS: TierSettings = { sampleIntervalMs: 300_000, retentionMs: 30 * 86_400_000, retentionHourlyMs: 365 * 86_400_000 }

const IDS = `
  SELECT n.id, n.cluster_id, n.node_name FROM nodes n
    JOIN unnest($1::text[], $2::text[]) AS k(cluster_id, node_name) ON n.cluster_id = k.cluster_id AND n.node_name = k.node_name`

/**
 * The bare limit on PostgreSQL: the same rows, upserted by Bun's SQL client in a plain loop of
 * 1,000-row transactions into the master's schema (made by its own migrations) — identities, then
 * the latest rows and the bucket of each history tier, each a multi-row statement (the master's
 * own) — with no HTTP, validation, threads, locks or caching.
 */
export async function bareUpserts(url: string, warmRows: NodeRow[], timedRows: NodeRow[]): Promise<{ rowsPerSecond: number; seconds: number; busyPercent: number }> {
  const tiers = historyTiers(DEFAULT_TIERS)
  // The schema as the master makes it, and the partitions the rows go into, before the clock starts.
  await (await openPostgresWriteStore(url, DEFAULT_TIERS)).close()
  const sql = new SQL(url, { max: 1 })
  try {
    await new Partitions(sql, tiers).ensure(bucketsOf([...warmRows, ...timedRows], tiers, Date.now()))
    const historyStatements = tiers.map((tier) => ({ tier, text: upsertHistory(tier) }))
    const upsert = (rows: NodeRow[]) =>
      sql.begin(async (tx) => {
        const keys = [rows.map((row) => row.cluster), rows.map((row) => row.node)]
        const [, found] = await Promise.all([tx.unsafe(INSERT_IDENTITIES, keys), tx.unsafe(IDS, keys)])
        const ids = new Map((found as { id: number; cluster_id: string; node_name: string }[]).map((row) => [`${row.cluster_id}\0${row.node_name}`, row.id]))
        const idOf = rows.map((row) => ids.get(`${row.cluster}\0${row.node}`)!)
        await Promise.all([
          tx.unsafe(UPSERT_LATEST, latestParams(rows, idOf, Date.now())),
          ...historyStatements.map(({ tier, text }) => tx.unsafe(text, historyParams(rows, idOf, tier.intervalS))),
        ])
      })
    const run = async (rows: NodeRow[]) => {
      for (let at = 0; at < rows.length; at += ROWS_PER_TRANSACTION) await upsert(rows.slice(at, at + ROWS_PER_TRANSACTION))
    }
    await run(warmRows)
    const started = performance.now()
    const { busyPercent } = await busyWhile(() => run(timedRows))
    const seconds = (performance.now() - started) / 1000
    return { rowsPerSecond: timedRows.length / seconds, seconds, busyPercent }
  } finally {
    await sql.close({ timeout: 1 })
  }
}

/** UPSERT_LATEST's parameters: a column array each (LATEST_PARAMS), then the snapshots' offsets (1-based), lengths and bytes. */
function latestParams(rows: NodeRow[], ids: number[], receivedMs: number): unknown[] {
  const columns: unknown[][] = LATEST_PARAMS.map(() => [])
  const offsets: number[] = []
  const lengths: number[] = []
  let offset = 1
  rows.forEach((row, index) => {
    const values = [ids[index], row.cluster, row.node, row.snapshotMs, receivedMs, ...row.values, ...LATEST_EXTRAS.map((extra) => row[extra.key])]
    values.forEach((value, column) => columns[column]!.push(value ?? null))
    offsets.push(offset)
    lengths.push(row.json.byteLength)
    offset += row.json.byteLength
  })
  return [...columns, offsets, lengths, concatBytes(rows.map((row) => row.json))]
}

/**
 * A tier's upsert parameters (statements.ts HISTORY_PARAMS), one sample per row: its figure as the
 * sum, a NULL count ("every sample had it") or 0 when it lacked it, and the figure as the peak.
 * A transaction's rows are distinct nodes (a round of the workload), so no bucket comes twice.
 */
function historyParams(rows: NodeRow[], ids: number[], intervalS: number): unknown[] {
  const encoded = rows.map((row) => encodeValues(row.values))
  const figures = encoded[0]!.map((_, f) => [
    encoded.map((values) => (values[f] === null ? null : String(values[f]))),
    encoded.map((values) => (values[f] === null ? 0 : null)),
    encoded.map((values) => values[f]),
  ])
  const buckets = rows.map((row) => {
    const seconds = Math.floor(row.snapshotMs / 1000)
    return seconds - (seconds % intervalS)
  })
  return [ids, buckets, rows.map(() => 1), ...figures.flat()]
}
