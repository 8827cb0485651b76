import { FIGURES, LATEST_COLUMNS } from '../../model/figures'
import type { Tier } from '../tiers'
import { latestColumnType } from './schema'
import { addSumsSql } from './sums'

/**
 * The writer's statements. Each takes a whole batch as one array per column (unnest), so a batch
 * of any size is one statement, prepared once: no row count in its text, no parameter limit. The
 * snapshots go as one bytea of them all, back to back, each row cut out by its offset and length:
 * a bytea[] parameter would travel as hex text, twice the bytes, and measured a third slower.
 */

/**
 * Creates the identities of the keys that have none. Ids are handed out in the keys' order (the
 * batch's, as MetricsWriter numbers nodes first seen: the same input gives both dialects the same
 * ids), rows are inserted in one fixed order: masters inserting the same new nodes wait for each
 * other, never in a cycle. (A volatile function of a select list is evaluated after its ORDER BY.)
 */
export const INSERT_IDENTITIES = `
  INSERT INTO nodes (id, cluster_id, node_name)
  SELECT id, cluster_id, node_name FROM (
    SELECT nextval(pg_get_serial_sequence('nodes', 'id'))::int AS id, cluster_id, node_name FROM (
      SELECT k.cluster_id, k.node_name, k.at FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(cluster_id, node_name, at)
       WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.cluster_id = k.cluster_id AND n.node_name = k.node_name)) fresh
     ORDER BY at) numbered
   ORDER BY cluster_id COLLATE "C", node_name COLLATE "C"
  ON CONFLICT (cluster_id, node_name) DO NOTHING`
// The NOT EXISTS is not redundant: an INSERT that ends in DO NOTHING still takes a value of the id
// sequence, and a batch of known nodes would use up ids at the rate of the nodes' snapshots.

/**
 * Locks the identities of the keys, in the same fixed order in every master (no deadlock between
 * two writing the same nodes): whatever this transaction decides about a node's rows, no other
 * master decides at the same time.
 */
export const LOCK_IDENTITIES = `
  SELECT n.id, n.cluster_id, n.node_name FROM nodes n
    JOIN unnest($1::text[], $2::text[]) AS k(cluster_id, node_name) ON n.cluster_id = k.cluster_id AND n.node_name = k.node_name
   ORDER BY n.cluster_id, n.node_name
     FOR UPDATE OF n`

/** The stored snapshot times of the keys, read after the lock (its own statement: a fresh snapshot that sees what the lock waited for). */
export const STORED_TIMES = `
  SELECT l.cluster_id, l.node_name, l.snapshot_ms FROM node_metrics_latest l
    JOIN unnest($1::text[], $2::text[]) AS k(cluster_id, node_name) ON l.cluster_id = k.cluster_id AND l.node_name = k.node_name`

/** Columns of the latest upsert, in parameter order (the snapshots' offsets, lengths and bytes follow). */
export const LATEST_PARAMS = ['id', 'cluster_id', 'node_name', 'snapshot_ms', 'received_ms', ...LATEST_COLUMNS]
const LATEST_TYPES = ['int', 'text', 'text', 'float8', 'float8', ...LATEST_COLUMNS.map(latestColumnType)]

/** The latest rows, each replacing the stored one only when newer (the lock decided so already; this holds even without it). */
export const UPSERT_LATEST = (() => {
  const n = LATEST_PARAMS.length
  return `
  INSERT INTO node_metrics_latest AS l (${LATEST_PARAMS.join(', ')}, snapshot)
  SELECT ${LATEST_PARAMS.join(', ')}, substring($${n + 3}::bytea FROM at FOR len)
    FROM unnest(${LATEST_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}, $${n + 1}::int[], $${n + 2}::int[])
         AS u(${LATEST_PARAMS.join(', ')}, at, len)
  ON CONFLICT (id) DO UPDATE SET
    ${['snapshot_ms', 'received_ms', ...LATEST_COLUMNS, 'snapshot'].map((column) => `${column} = excluded.${column}`).join(', ')}
   WHERE l.snapshot_ms < excluded.snapshot_ms`
})()

/** Columns of a history upsert, in parameter order: node, bucket, samples, then sum, count, peak per figure. */
export const HISTORY_PARAMS = ['node_id', 'bucket_s', 'samples', ...FIGURES.flatMap(({ key }) => [`${key}_sum`, `${key}_n`, `${key}_max`])]
// Sums travel as text: every digit of a sum past 2^53 (postgres/sums.ts).
const HISTORY_TYPES = ['int', 'int8', 'int', ...FIGURES.flatMap(() => ['text', 'int', 'float8'])]

/**
 * A tier's buckets, each the batch's share of it (postgres/write-plan.ts), added to the stored
 * row — whichever master wrote it before: samples and sums add (as SQLite adds them, sums.ts), a
 * figure's count stays NULL ("every sample", history-encoding.ts) only while every sample of both
 * had it, peaks take the greater.
 */
export const upsertHistory = (tier: Tier) => `
  INSERT INTO ${tier.table} AS h (${HISTORY_PARAMS.join(', ')})
  SELECT ${HISTORY_PARAMS.map((column, i) => (HISTORY_TYPES[i] === 'text' ? `${column}::numeric` : column)).join(', ')}
    FROM unnest(${HISTORY_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}) AS u(${HISTORY_PARAMS.join(', ')})
  ON CONFLICT (node_id, bucket_s) DO UPDATE SET
    samples = h.samples + excluded.samples,
    ${FIGURES.map(({ key }) => `${key}_sum = ${addSumsSql(`h.${key}_sum`, `excluded.${key}_sum`, `COALESCE(excluded.${key}_n, excluded.samples)`)},
    ${key}_n = CASE WHEN h.${key}_n IS NULL AND excluded.${key}_n IS NULL THEN NULL
                    ELSE COALESCE(h.${key}_n, h.samples) + COALESCE(excluded.${key}_n, excluded.samples) END,
    ${key}_max = GREATEST(h.${key}_max, excluded.${key}_max)`).join(',\n    ')}`
