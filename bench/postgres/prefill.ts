import { SQL } from 'bun'
import { FIGURES } from '../../src/model/figures'
import { openPostgresWriteStore } from '../../src/storage/postgres'
import { Partitions } from '../../src/storage/postgres/partitions'
import { historyTiers } from '../../src/storage/tiers'
import { roundRows, workload } from '../workload'
import { DEFAULT_TIERS } from './bare'

const BUCKET_S = 300
const HOUR_S = 3600
const DAY_S = 86_400

/** What a stored average is in each unit (scaled by the figure), as bench/prefill.ts makes them. */
const TYPICAL: Record<string, number> = { '%': 80, '°C': 70, 'B/s': 3e6, '': 4 }

/**
 * A PostgreSQL database as it looks after `days` of a `nodes`-node cluster reporting, shaped as
 * bench/prefill.ts shapes the SQLite one: the latest rows through the real write store, the
 * history points (one per 5-minute bucket, one per hour in the hourly tier) made by the server
 * itself from generate_series — through the write store, 30 days would take far longer than the
 * benchmark — into the partitions the writer makes (its own Partitions), then VACUUM ANALYZE, as
 * autovacuum would have left tables that old.
 */
export async function prefillPostgres(url: string, clusterPrefix: string, nodes: number, days: number) {
  const load = workload(nodes, nodes, clusterPrefix)
  const store = await openPostgresWriteStore(url, DEFAULT_TIERS)
  await store.write(roundRows(load, Date.now() - 60_000))
  await store.close()

  const tiers = historyTiers(DEFAULT_TIERS)
  const now = Math.floor(Date.now() / 1000 / BUCKET_S) * BUCKET_S
  const first = now - days * DAY_S
  const sql = new SQL(url, { max: 2 })
  try {
    // Every span of the days filled, made as the writer makes them for a late snapshot.
    const spans = (spanS: number) => Array.from({ length: Math.ceil((now - first) / spanS) + 2 }, (_, i) => Math.min(now, first + i * spanS))
    await new Partitions(sql, tiers).ensure(new Map(tiers.map((tier) => [tier, spans(tier.spanS)])))
    // Day by day, two statements at a time (the machine's cores), raw and hourly points alike.
    const jobs: (() => Promise<unknown>)[] = []
    for (let from = first; from <= now; from += DAY_S) {
      const to = Math.min(now, from + DAY_S - BUCKET_S)
      jobs.push(() => sql.unsafe(fillSql(tiers[0]!.table, 60, BUCKET_S, first, days), [from, to]))
      const hourFrom = Math.ceil(from / HOUR_S) * HOUR_S
      if (hourFrom <= to) jobs.push(() => sql.unsafe(fillSql(tiers[1]!.table, 720, HOUR_S, first, days), [hourFrom, to]))
    }
    await Promise.all([0, 1].map(async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job()
    }))
    for (const tier of tiers) await sql.unsafe(`VACUUM (ANALYZE) ${tier.table}`)
    await sql.unsafe('VACUUM (ANALYZE) node_metrics_latest, nodes')
    const [{ points }] = await sql.unsafe(`SELECT count(*)::float8 AS points FROM ${tiers[0]!.table}`)
    return { clusterId: load.clusters[0]!.clusterId, nodeNames: load.clusters[0]!.nodes.map((node) => node.name), points: points as number }
  } finally {
    await sql.close({ timeout: 1 })
  }
}

/**
 * Points of every node for buckets $1…$2 (epoch s, every `stepS`), values as bench/prefill.ts
 * computes them: per figure a daily wave and some noise (a disk filling slowly), the sum of
 * `samples` samples, a NULL count (every sample had it), a peak above the average. A bucket the
 * latest rows' write made already is kept. Bucket by bucket, every node's row of a bucket beside
 * the others', as agents reporting together leave them: a node's history is spread over as many
 * pages as it has points, which is what its history queries read.
 */
function fillSql(table: string, samples: number, stepS: number, first: number, days: number): string {
  const averages = FIGURES.map((figure, index) => {
    const wave = `(0.6 + 0.35 * sin(2 * pi() * ts / ${DAY_S} + id) + 0.05 * sin(ts / 977.0 + id * 13 + ${index}))`
    const growth = figure.key === 'disk' ? ` * (1 + (ts - ${first}) / ${days * DAY_S}.0 / 10)` : ''
    return `round(${TYPICAL[figure.unit] ?? 1} * ${wave} * ${figure.scale}${growth} * 0.9) AS a${index}`
  })
  const columns = FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])
  const values = FIGURES.flatMap((_, index) => [
    `(a${index} * ${samples})::numeric`,
    'NULL',
    `round(a${index} * (1.05 + 0.3 * abs(sin(ts / 613.0 + ${index}))))`,
  ])
  return `
    INSERT INTO ${table} (node_id, bucket_s, samples, ${columns.join(', ')})
    SELECT id, ts, ${samples}, ${values.join(', ')}
      FROM (SELECT n.id, ts, ${averages.join(', ')}
              FROM nodes n CROSS JOIN generate_series($1::int8, $2::int8, ${stepS}) AS ts) points
     ORDER BY ts, id
    ON CONFLICT (node_id, bucket_s) DO NOTHING`
}

/** Bytes on disk per point of each tier (its partitions with their indexes) and per latest row (with its TOAST). */
export async function storageFigures(url: string) {
  const sql = new SQL(url, { max: 1 })
  try {
    const tier = async (table: string) => {
      const [{ bytes, rows }] = await sql.unsafe(
        `SELECT sum(pg_total_relation_size(relid))::float8 AS bytes, (SELECT count(*) FROM ${table})::float8 AS rows
           FROM pg_partition_tree('${table}')`,
      )
      return { bytes: bytes as number, rows: rows as number }
    }
    const raw = await tier('node_metrics_history')
    const hourly = await tier('node_metrics_history_hourly')
    const [{ bytes, rows }] = await sql.unsafe(
      `SELECT pg_total_relation_size('node_metrics_latest')::float8 AS bytes, (SELECT count(*) FROM node_metrics_latest)::float8 AS rows`,
    )
    const [{ size }] = await sql.unsafe('SELECT pg_database_size(current_database())::float8 AS size')
    return {
      historyRows: raw.rows,
      hourlyRows: hourly.rows,
      latestRows: rows as number,
      bytesPerHistoryPoint: raw.bytes / raw.rows,
      bytesPerHourlyPoint: hourly.bytes / hourly.rows,
      bytesPerLatestRow: (bytes as number) / (rows as number),
      databaseBytes: size as number,
    }
  } finally {
    await sql.close({ timeout: 1 })
  }
}
