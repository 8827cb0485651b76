import type { Database } from 'bun:sqlite'
import { FIGURES } from '../../src/model/figures'
import { countOf } from '../../src/storage/history-encoding'
import type { Tier } from '../../src/storage/tiers'

/**
 * The history reads of the row layout, as the master ran them before chunks (commit 6d20f54,
 * storage/metrics-reader.ts): the reference every chunked answer must equal byte for byte.
 */

const mean = (sum: string, count: string, scale: number) => `ROUND(${sum} * 1.0 / NULLIF(${count}, 0)) / ${scale}.0`

function pointColumns(): string {
  const columns = FIGURES.map(({ key, field, scale }) =>
    `${mean(`${key}_sum`, countOf(key), scale)} AS ${field}, ${key}_max / ${scale}.0 AS ${field}_max`)
  return `bucket_s * 1000 AS timestamp, ${columns.join(',\n')}`
}

function groupedPointColumns(width: string, figures: readonly (typeof FIGURES)[number][] = FIGURES): string {
  const columns = figures.map(({ key, field, scale }) =>
    `${mean(`TOTAL(${key}_sum)`, `TOTAL(${countOf(key)})`, scale)} AS ${field}, MAX(${key}_max) / ${scale}.0 AS ${field}_max`)
  return `bucket_s / ${width} * ${width} * 1000 AS timestamp, ${columns.join(',\n')}`
}

export function rowLayoutHistory(db: Database, nodeId: number, tier: Tier, fromS: number, toS: number, widthS: number): unknown[] {
  if (widthS === tier.intervalS) {
    return db
      .query(`SELECT ${pointColumns()} FROM ${tier.table} WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3 ORDER BY bucket_s`)
      .all(nodeId, fromS, toS)
  }
  return db
    .query(
      `SELECT ${groupedPointColumns('?4')} FROM ${tier.table}
        WHERE node_id = ?1 AND bucket_s >= ?2 AND bucket_s < ?3
        GROUP BY bucket_s / ?4 ORDER BY bucket_s / ?4`,
    )
    .all(nodeId, fromS, toS, widthS)
}

export function rowLayoutFleet(db: Database, clusterId: string, metric: string, tier: Tier, fromS: number, toS: number, widthS: number) {
  const figure = FIGURES.find((candidate) => candidate.field === metric)!
  const rows = db
    .query(
      `SELECT n.node_name AS node, g.*
         FROM nodes n
         JOIN (SELECT node_id, ${groupedPointColumns('?4', [figure])}
                 FROM ${tier.table}
                WHERE node_id IN (SELECT id FROM nodes WHERE cluster_id = ?1)
                  AND bucket_s >= ?2 AND bucket_s < ?3
                GROUP BY node_id, bucket_s / ?4) g ON g.node_id = n.id
        ORDER BY n.node_name, g.timestamp`,
    )
    .all(clusterId, fromS, toS, widthS) as Record<string, number>[]
  const series = new Map<string, { timestamp: number; value: number | null; max: number | null }[]>()
  for (const row of rows) {
    const node = row.node as unknown as string
    if (!series.has(node)) series.set(node, [])
    series.get(node)!.push({ timestamp: row.timestamp!, value: row[metric] ?? null, max: row[`${metric}_max`] ?? null })
  }
  return series
}
