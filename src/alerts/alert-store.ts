import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AlertRulesDocument, AlertRulesSource } from '../model/alerts'
import type { AlertRecord, Transition } from './evaluator'

/**
 * The alerts actor's own SQLite file (ALERT_DB): alert states, their history, the rules in force
 * and the notifications not yet delivered. Kept apart from the metrics store so its small, rare
 * transactions never wait behind a group commit (and it is the same file whichever store the
 * metrics are in). The gateway reads it through AlertReader.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_state (
  rule TEXT NOT NULL, cluster TEXT NOT NULL, node TEXT NOT NULL,
  figure TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,
  active_since_ms INTEGER NOT NULL, fired_ms INTEGER, resolved_ms INTEGER, value REAL, summary TEXT NOT NULL,
  PRIMARY KEY (rule, cluster, node)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_history (
  id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,
  cluster TEXT NOT NULL, node TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL
);
CREATE INDEX IF NOT EXISTS alert_history_at ON alert_history (at_ms);
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_outbox_target ON alert_outbox (target, id);
CREATE TABLE IF NOT EXISTS alert_rules (
  id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, configured_fingerprint TEXT NOT NULL,
  document TEXT NOT NULL, updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_seen_nodes (
  cluster TEXT NOT NULL, node TEXT NOT NULL, last_sample_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  PRIMARY KEY (cluster, node)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_seen_clusters (
  cluster TEXT PRIMARY KEY, heard_ms INTEGER NOT NULL, observed_interval_ms REAL
) WITHOUT ROWID;
`

export interface StoredRules {
  source: AlertRulesSource
  configuredFingerprint: string
  document: AlertRulesDocument
  updatedMs: number
}

export interface SeenNode {
  cluster: string
  node: string
  lastSampleMs: number
  receivedMs: number
}

export interface SeenCluster {
  cluster: string
  heardMs: number
  observedIntervalMs?: number
}

export interface OutboxMessage {
  id: number
  /** the target's key (notify/targets.ts): a message for a target no longer configured is dropped */
  target: string
  createdMs: number
  attempts: number
  nextMs: number
}

type StateRow = {
  rule: string; cluster: string; node: string; figure: string; severity: string; state: AlertRecord['state']
  active_since_ms: number; fired_ms: number | null; resolved_ms: number | null; value: number | null; summary: string
}

export const stateRowToRecord = (row: StateRow): AlertRecord => ({
  rule: row.rule, cluster: row.cluster, node: row.node, figure: row.figure, severity: row.severity, state: row.state,
  activeSinceMs: row.active_since_ms, firedMs: row.fired_ms ?? undefined, resolvedMs: row.resolved_ms ?? undefined, value: row.value, summary: row.summary,
})

export class AlertStore {
  /** undelivered messages, counted here: a count(*) over a backlog of a long outage costs a scan a second */
  private outboxRows: number

  private constructor(private readonly db: Database) {
    this.outboxRows = db.query<{ n: number }, []>('SELECT count(*) AS n FROM alert_outbox').get()!.n
  }

  static open(path: string): AlertStore {
    mkdirSync(dirname(path), { recursive: true })
    const db = new Database(path, { create: true, readwrite: true, strict: true })
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    db.exec('PRAGMA busy_timeout = 5000')
    db.exec(SCHEMA)
    return new AlertStore(db)
  }

  rules(): StoredRules | undefined {
    const row = this.db.query<{ source: AlertRulesSource; configured_fingerprint: string; document: string; updated_ms: number }, []>(
      'SELECT source, configured_fingerprint, document, updated_ms FROM alert_rules WHERE id = 1',
    ).get()
    return row ? { source: row.source, configuredFingerprint: row.configured_fingerprint, document: JSON.parse(row.document), updatedMs: row.updated_ms } : undefined
  }

  saveRules(rules: StoredRules): void {
    this.db.query(
      `INSERT INTO alert_rules (id, source, configured_fingerprint, document, updated_ms) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET source = excluded.source, configured_fingerprint = excluded.configured_fingerprint,
         document = excluded.document, updated_ms = excluded.updated_ms`,
    ).run(rules.source, rules.configuredFingerprint, JSON.stringify(rules.document), rules.updatedMs)
  }

  alerts(): AlertRecord[] {
    return this.db.query<StateRow, []>('SELECT * FROM alert_state').all().map(stateRowToRecord)
  }

  seenNodes(): { cluster: string; node: string; lastSampleMs: number; receivedMs: number }[] {
    return this.db
      .query<{ cluster: string; node: string; last_sample_ms: number; received_ms: number }, []>('SELECT * FROM alert_seen_nodes')
      .all()
      .map((row) => ({ cluster: row.cluster, node: row.node, lastSampleMs: row.last_sample_ms, receivedMs: row.received_ms }))
  }

  /** When each cluster's agent was last heard, and its posting interval as observed (the stale threshold goes by it). */
  seenClusters(): SeenCluster[] {
    return this.db
      .query<{ cluster: string; heard_ms: number; observed_interval_ms: number | null }, []>('SELECT * FROM alert_seen_clusters')
      .all()
      .map((row) => ({ cluster: row.cluster, heardMs: row.heard_ms, observedIntervalMs: row.observed_interval_ms ?? undefined }))
  }

  /**
   * One evaluation's changes and the notifications they make, in one transaction: a restart
   * finds either both (and delivers what is left of the outbox) or neither (and judges again).
   */
  record(transitions: readonly Transition[], outbox: readonly { target: string; body: string }[], now: number): void {
    const upsert = this.db.query(
      `INSERT INTO alert_state (rule, cluster, node, figure, severity, state, active_since_ms, fired_ms, resolved_ms, value, summary)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (rule, cluster, node) DO UPDATE SET figure = excluded.figure, severity = excluded.severity, state = excluded.state,
         active_since_ms = excluded.active_since_ms, fired_ms = excluded.fired_ms, resolved_ms = excluded.resolved_ms,
         value = excluded.value, summary = excluded.summary`,
    )
    // A pending alert took the row of the resolved one before it (the same key): when it ends, the row goes.
    const remove = this.db.query("DELETE FROM alert_state WHERE rule = ? AND cluster = ? AND node = ? AND state = 'pending'")
    const history = this.db.query(
      'INSERT INTO alert_history (at_ms, rule, severity, cluster, node, from_state, to_state, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const queue = this.db.query('INSERT INTO alert_outbox (target, body, created_ms, next_ms) VALUES (?, ?, ?, ?)')
    this.db.transaction(() => {
      for (const { from, to, atMs, alert: a } of transitions) {
        if (to === 'inactive') remove.run(a.rule, a.cluster, a.node)
        else upsert.run(a.rule, a.cluster, a.node, a.figure, a.severity, to, a.activeSinceMs, a.firedMs ?? null, a.resolvedMs ?? null, a.value, a.summary)
        history.run(atMs, a.rule, a.severity, a.cluster, a.node, from, to, a.value)
      }
      for (const message of outbox) queue.run(message.target, message.body, now, now)
    })()
    this.outboxRows += outbox.length
  }

  saveSeen(nodes: Iterable<SeenNode>, clusters: Iterable<SeenCluster>): void {
    const node = this.db.query(
      `INSERT INTO alert_seen_nodes (cluster, node, last_sample_ms, received_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (cluster, node) DO UPDATE SET last_sample_ms = excluded.last_sample_ms, received_ms = excluded.received_ms`,
    )
    const cluster = this.db.query(
      `INSERT INTO alert_seen_clusters (cluster, heard_ms, observed_interval_ms) VALUES (?, ?, ?)
       ON CONFLICT (cluster) DO UPDATE SET heard_ms = excluded.heard_ms, observed_interval_ms = coalesce(excluded.observed_interval_ms, observed_interval_ms)`,
    )
    this.db.transaction(() => {
      for (const entry of nodes) node.run(entry.cluster, entry.node, entry.lastSampleMs, entry.receivedMs)
      for (const entry of clusters) cluster.run(entry.cluster, entry.heardMs, entry.observedIntervalMs ?? null)
    })()
  }

  forgetSeen(nodes: Iterable<[string, string]>, clusters: Iterable<string>): void {
    const node = this.db.query('DELETE FROM alert_seen_nodes WHERE cluster = ? AND node = ?')
    const cluster = this.db.query('DELETE FROM alert_seen_clusters WHERE cluster = ?')
    const clusterNodes = this.db.query('DELETE FROM alert_seen_nodes WHERE cluster = ?')
    this.db.transaction(() => {
      for (const [id, name] of nodes) node.run(id, name)
      for (const id of clusters) {
        cluster.run(id)
        clusterNodes.run(id)
      }
    })()
  }

  /**
   * Each target's oldest undelivered message, without its body (megabytes for a fleet going stale
   * at once, and most heads are busy or not due): a target gets its messages in order, so only its
   * head may go. One index seek per target: a backlog of a long outage is not scanned on every send.
   */
  heads(targets: Iterable<string>): OutboxMessage[] {
    const head = this.db.query<{ id: number; target: string; created_ms: number; attempts: number; next_ms: number }, [string]>(
      'SELECT id, target, created_ms, attempts, next_ms FROM alert_outbox WHERE target = ? ORDER BY id LIMIT 1',
    )
    const heads: OutboxMessage[] = []
    for (const target of targets) {
      const row = head.get(target)
      if (row) heads.push({ id: row.id, target: row.target, createdMs: row.created_ms, attempts: row.attempts, nextMs: row.next_ms })
    }
    return heads
  }

  /** The body of an undelivered message, read when it is sent. */
  body(id: number): string {
    return this.db.query<{ body: string }, [number]>('SELECT body FROM alert_outbox WHERE id = ?').get(id)?.body ?? '[]'
  }

  outboxSize(): number {
    return this.outboxRows
  }

  delivered(id: number): void {
    this.outboxRows -= this.db.query('DELETE FROM alert_outbox WHERE id = ?').run(id).changes
  }

  retryLater(id: number, attempts: number, nextMs: number): void {
    this.db.query('UPDATE alert_outbox SET attempts = ?, next_ms = ? WHERE id = ?').run(attempts, nextMs, id)
  }

  /** Messages for targets no longer configured: nobody can receive them now. Returns how many. */
  dropTargetsBut(targets: readonly string[]): number {
    const kept = new Set(targets)
    const gone = this.db.query<{ target: string }, []>('SELECT DISTINCT target FROM alert_outbox').all().filter((row) => !kept.has(row.target))
    let dropped = 0
    for (const { target } of gone) dropped += this.db.query('DELETE FROM alert_outbox WHERE target = ?').run(target).changes
    this.outboxRows -= dropped
    return dropped
  }

  /** History older than RETENTION and resolved alerts older than a day leave. */
  cleanup(historyCutoffMs: number, resolvedCutoffMs: number): void {
    this.db.query('DELETE FROM alert_history WHERE at_ms < ?').run(historyCutoffMs)
    this.db.query("DELETE FROM alert_state WHERE state = 'resolved' AND resolved_ms < ?").run(resolvedCutoffMs)
  }

  close(): void {
    this.db.close()
  }
}
