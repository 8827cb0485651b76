import type { Database } from 'bun:sqlite'

const HOUR_S = 3600

/** The figures a history table holds when migration 4 runs: v1 files have only migration 3's, later ones every registry figure. */
function historyFigures(db: Database, table: string): string[] {
  const columns = (db.query(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name)
  return columns.filter((name) => name.endsWith('_sum')).map((name) => name.slice(0, -'_sum'.length))
}

/**
 * Fills the hourly tier from the raw tier for every (node, hour) that has raw points and no hourly
 * row: a file written before the hourly tier existed (schema v1) has none for its past, so long
 * ranges would read empty where the raw tier knows the answer. Hours with an hourly row are left
 * alone (the writer already counted every snapshot into them). Per figure, sums add up, the count is
 * NULL ("all samples", history-encoding.ts) only if it was in every raw point, peaks are the peak of
 * peaks. A raw bucket is put in the hour its start falls in (a SAMPLE_INTERVAL that does not divide
 * an hour cannot be split any finer after the fact).
 */
function backfillHourly(db: Database): string {
  const hourly = new Set(historyFigures(db, 'node_metrics_history_hourly'))
  const figures = historyFigures(db, 'node_metrics_history').filter((key) => hourly.has(key))
  const columns = figures.flatMap((key) => [`${key}_sum`, `${key}_n`, `${key}_max`])
  const aggregates = figures.map((key) =>
    // TOTAL cannot overflow; a figure no sample of the hour had keeps a NULL sum, as the writer leaves it.
    `CASE WHEN COUNT(${key}_sum) = 0 THEN NULL ELSE TOTAL(${key}_sum) END,
     CASE WHEN COUNT(${key}_n) = 0 THEN NULL ELSE SUM(COALESCE(${key}_n, samples)) END,
     MAX(${key}_max)`)
  return `
   INSERT INTO node_metrics_history_hourly (node_id, bucket_s, samples${columns.map((column) => `, ${column}`).join('')})
     SELECT g.* FROM (
       SELECT node_id, bucket_s / ${HOUR_S} * ${HOUR_S} AS hour, SUM(samples)${aggregates.map((aggregate) => `, ${aggregate}`).join('')}
         FROM node_metrics_history
        GROUP BY node_id, bucket_s / ${HOUR_S}) g
      WHERE NOT EXISTS (SELECT 1 FROM node_metrics_history_hourly h WHERE h.node_id = g.node_id AND h.bucket_s = g.hour);`
}

/**
 * Migration 4: node identity, and one time unit per layer, named in its column.
 * - `node_metrics_latest.timestamp` (the agent's snapshot time, ms) becomes `snapshot_ms`; the
 *   history tiers' `timestamp` (bucket start, s) becomes `bucket_s`.
 * - `received_ms`: when the master (its own clock) stored the node's newest snapshot. Retention
 *   judges "not seen" by it, not by an agent clock that may lag. SQLite adds a NOT NULL column only
 *   with a default; the writer always sets it, and existing rows start from their snapshot time.
 * - `nodes`: every node's identity, which outlives its latest row, so a node removed after RETENTION
 *   keeps its hourly history readable (and continues the same series if it reports again). Its ids
 *   are the latest rows' ids, which history points already reference.
 * - The hourly tier is back-filled from the raw tier (see backfillHourly).
 */
export function migration4(db: Database): string {
  return `
   ALTER TABLE node_metrics_latest RENAME COLUMN timestamp TO snapshot_ms;
   ALTER TABLE node_metrics_latest ADD COLUMN received_ms INTEGER NOT NULL DEFAULT 0;
   UPDATE node_metrics_latest SET received_ms = snapshot_ms;
   ALTER TABLE node_metrics_history RENAME COLUMN timestamp TO bucket_s;
   ALTER TABLE node_metrics_history_hourly RENAME COLUMN timestamp TO bucket_s;
   CREATE TABLE nodes (
     id         INTEGER PRIMARY KEY,
     cluster_id TEXT NOT NULL,
     node_name  TEXT NOT NULL,
     UNIQUE (cluster_id, node_name)
   );
   INSERT INTO nodes (id, cluster_id, node_name) SELECT id, cluster_id, node_name FROM node_metrics_latest;
   ${backfillHourly(db)}`
}
