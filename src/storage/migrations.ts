import type { Database } from 'bun:sqlite'
import { FIGURES } from '../model/figures'
import { historyColumnsOf } from './history-encoding'
import { migration4 } from './migration-4'

/** The figures history held when migration 3 reshaped it (frozen: the registry grows on its own). */
const V3_FIGURES = ['cpu', 'mem', 'disk', 'temp', 'net_rx', 'net_tx'] as const

/**
 * Migration 3 for one tier: each figure gets its own sum, sample count and peak. The old schema
 * kept one count for all figures, so a bucket's samples are the best count there is: mean ×
 * samples becomes the sum, the count is "all samples" (NULL, see history-encoding.ts) where the
 * figure was kept and 0 where it never was; points from before peaks read their mean as their peak.
 */
const perFigureHistory = (table: string) => `
   CREATE TABLE ${table}_v3 (
     node_id   INTEGER NOT NULL,
     timestamp INTEGER NOT NULL,
     samples   INTEGER NOT NULL,
     ${V3_FIGURES.map((key) => `${key}_sum INTEGER, ${key}_n INTEGER DEFAULT 0, ${key}_max INTEGER`).join(', ')},
     PRIMARY KEY (node_id, timestamp)
   ) WITHOUT ROWID;
   INSERT INTO ${table}_v3 (node_id, timestamp, samples, ${V3_FIGURES.map((key) => `${key}_sum, ${key}_n, ${key}_max`).join(', ')})
     SELECT node_id, timestamp, samples,
            ${V3_FIGURES.map((key) => `${key} * samples, CASE WHEN ${key} IS NULL THEN 0 END, COALESCE(${key}_max, ${key})`).join(', ')}
       FROM ${table};
   DROP TABLE ${table};
   ALTER TABLE ${table}_v3 RENAME TO ${table};`

/**
 * One schema step: its SQL, or a function that writes its SQL from the file as it is at that step
 * (migration 4 reads which figure columns the history tables have by then).
 */
export type Migration = string | ((db: Database) => string)

/**
 * Schema history, applied in order and recorded in PRAGMA user_version. Never edit a shipped
 * migration: add the next one.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 1: latest row per node with the figures the summary needs, and the bucketed trend series.
  // History is keyed by the node's integer id, not its names, and holds scaled integers
  // (storage/history-encoding.ts), to keep a point small on disk.
  `CREATE TABLE node_metrics_latest (
     id             INTEGER PRIMARY KEY,
     cluster_id     TEXT    NOT NULL,
     node_name      TEXT    NOT NULL,
     timestamp      INTEGER NOT NULL,
     cpu            REAL,
     mem            REAL,
     temp           REAL,
     cores          INTEGER,
     mem_total      REAL,
     mem_used       REAL,
     disk_max       REAL,
     disk_max_mount TEXT,
     snapshot       BLOB    NOT NULL, -- the node's JSON, UTF-8, served as it is
     UNIQUE (cluster_id, node_name)
   );
   CREATE TABLE node_metrics_history (
     node_id   INTEGER NOT NULL,
     timestamp INTEGER NOT NULL, -- bucket start, epoch seconds
     samples   INTEGER NOT NULL, -- snapshots averaged into the point
     cpu       INTEGER,          -- % × 100
     mem       INTEGER,          -- % × 100
     disk      INTEGER,          -- % × 100
     temp      INTEGER,          -- °C × 10
     net_rx    INTEGER,          -- bytes/s
     net_tx    INTEGER,          -- bytes/s
     PRIMARY KEY (node_id, timestamp)
   ) WITHOUT ROWID;`,
  // 2: every point also keeps the peak of its bucket (the average alone hides spikes), and an
  // hourly tier summarises the same snapshots for long ranges. Points written before have no
  // peak: readers take the average for it.
  `ALTER TABLE node_metrics_history ADD COLUMN cpu_max    INTEGER;
   ALTER TABLE node_metrics_history ADD COLUMN mem_max    INTEGER;
   ALTER TABLE node_metrics_history ADD COLUMN disk_max   INTEGER;
   ALTER TABLE node_metrics_history ADD COLUMN temp_max   INTEGER;
   ALTER TABLE node_metrics_history ADD COLUMN net_rx_max INTEGER;
   ALTER TABLE node_metrics_history ADD COLUMN net_tx_max INTEGER;
   CREATE TABLE node_metrics_history_hourly (
     node_id    INTEGER NOT NULL,
     timestamp  INTEGER NOT NULL, -- hour start, epoch seconds
     samples    INTEGER NOT NULL,
     cpu        INTEGER,
     mem        INTEGER,
     disk       INTEGER,
     temp       INTEGER,
     net_rx     INTEGER,
     net_tx     INTEGER,
     cpu_max    INTEGER,
     mem_max    INTEGER,
     disk_max   INTEGER,
     temp_max   INTEGER,
     net_rx_max INTEGER,
     net_tx_max INTEGER,
     PRIMARY KEY (node_id, timestamp)
   ) WITHOUT ROWID;`,
  // 3: true averages — a figure missing from some samples of a bucket (no sensor, a value out of
  // range) is averaged over the samples that had it; the latest row keeps the primary disk's size.
  `${perFigureHistory('node_metrics_history')}
   ${perFigureHistory('node_metrics_history_hourly')}
   ALTER TABLE node_metrics_latest ADD COLUMN disk_total REAL;
   ALTER TABLE node_metrics_latest ADD COLUMN disk_used  REAL;`,
  // 4: node identity in `nodes`, times named by unit (snapshot_ms, received_ms, bucket_s), and the
  // hourly tier back-filled from the raw one (storage/migration-4.ts).
  migration4,
  // 5: the newest receive time of a cluster's nodes, read in a step: the gateway's caches see a
  // commit in the database itself, not only once the DataHub's message about it has come.
  `CREATE INDEX node_metrics_latest_received ON node_metrics_latest (cluster_id, received_ms);`,
  // 6: closed spans of history as chunks, one row per node and span (storage/chunks.ts,
  // docs/history-chunks.md); their figure columns are added below, as the registry has them.
  // The open rows stay where they are: the writer compacts what is closed, a node at a time.
  // A rowid table: chunk rows run to kilobytes, which WITHOUT ROWID trees store badly.
  ['node_metrics_history_chunks', 'node_metrics_history_hourly_chunks'].map((table) =>
    `CREATE TABLE ${table} (
       node_id INTEGER NOT NULL,
       start_s INTEGER NOT NULL, -- span start, epoch seconds
       end_s   INTEGER NOT NULL, -- span end (exclusive): spans follow SAMPLE_INTERVAL, which may change
       points  INTEGER NOT NULL, -- buckets held
       buckets BLOB    NOT NULL, -- bucket starts, seconds after start_s
       samples BLOB    NOT NULL, -- snapshots counted into each bucket
       PRIMARY KEY (node_id, start_s)
     );`).join('\n'),
]

/** Tables and the columns each registry figure needs in them. */
const FIGURE_COLUMNS: Record<string, (key: string) => string[]> = {
  node_metrics_latest: (key) => [`${key} REAL`],
  node_metrics_history: historyColumnsOf,
  node_metrics_history_hourly: historyColumnsOf,
  // A figure's sums, counts and peaks of a chunk in one blob; NULL where no point had the figure.
  node_metrics_history_chunks: (key) => [`${key} BLOB`],
  node_metrics_history_hourly_chunks: (key) => [`${key} BLOB`],
}

/**
 * Adds the columns of figures the registry has gained since the file was written: existing rows
 * read them as missing (null), never as 0. This is what lets a figure be added in one place.
 */
function addFigureColumns(db: Database): string[] {
  const added: string[] = []
  for (const [table, columnsOf] of Object.entries(FIGURE_COLUMNS)) {
    const existing = new Set((db.query(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name))
    for (const { key } of FIGURES) {
      for (const column of columnsOf(key)) {
        if (existing.has(column.split(' ')[0]!)) continue
        db.exec(`ALTER TABLE ${table} ADD COLUMN ${column}`)
        added.push(`${table}.${column.split(' ')[0]}`)
      }
    }
  }
  return added
}

export interface Migrated {
  version: number
  /** the latest table gained figure columns: its rows' figures should be derived again from their snapshots */
  latestFiguresAdded: boolean
}

/** Brings the file up to the newest schema, each step in its own transaction. */
export function migrate(db: Database): Migrated {
  const current = (db.query('PRAGMA user_version').get() as { user_version: number }).user_version
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this master knows (${MIGRATIONS.length})`)
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      const migration = MIGRATIONS[version]!
      db.exec(typeof migration === 'string' ? migration : migration(db))
      db.exec(`PRAGMA user_version = ${version + 1}`)
    })()
  }
  const added = db.transaction(() => addFigureColumns(db))()
  // Migration 3 added the primary disk's size to the latest rows; a new figure adds its column.
  const reshaped = current > 0 && current < 3
  return { version: MIGRATIONS.length, latestFiguresAdded: reshaped || (current > 0 && added.some((column) => column.startsWith('node_metrics_latest.'))) }
}
