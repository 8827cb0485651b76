import type { Database } from 'bun:sqlite'

/**
 * Schema history, applied in order and recorded in PRAGMA user_version. Never edit a shipped
 * migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
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
]

/** Brings the file up to the newest schema, each step in its own transaction. */
export function migrate(db: Database): number {
  const current = (db.query('PRAGMA user_version').get() as { user_version: number }).user_version
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this master knows (${MIGRATIONS.length})`)
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!)
      db.exec(`PRAGMA user_version = ${version + 1}`)
    })()
  }
  return MIGRATIONS.length
}
