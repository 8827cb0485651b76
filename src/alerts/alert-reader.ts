import { Database } from 'bun:sqlite'
import type { Static } from 'elysia'
import type { Alert, AlertRulesDocument, AlertRulesSource, AlertTransition } from '../model/alerts'
import { stateRowToRecord } from './alert-store'

/** Resolved alerts are listed for a day after they resolve (until the alert goes pending again: it takes the row). */
const RESOLVED_LISTED_MS = 86_400_000
/** An alerts answer holds at most this many (firing first). */
export const MAX_ALERT_ROWS = 10_000
/** A history answer holds at most this many changes (the newest). */
export const MAX_HISTORY_ROWS = 10_000

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString())

/** The gateway's read-only view of the alerts actor's file (alert-store.ts): it exists once the actor said ready. */
export class AlertReader {
  private readonly db: Database

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, strict: true })
    this.db.exec('PRAGMA busy_timeout = 5000')
  }

  /** `state`: active (pending and firing), pending, firing, or resolved (within a day). Firing first, then by rule, cluster, node. */
  alerts(filter: { state?: string; cluster?: string; node?: string }, now = Date.now()): Static<typeof Alert>[] {
    const state = filter.state ?? 'active'
    const states = state === 'active' ? ['pending', 'firing'] : [state]
    const rows = this.db
      .query<Parameters<typeof stateRowToRecord>[0], [string, string, string | null, string | null, string | null, string | null, number, number]>(
        `SELECT * FROM alert_state
         WHERE state IN (?, ?) AND (?3 IS NULL OR cluster = ?4) AND (?5 IS NULL OR node = ?6)
           AND (state <> 'resolved' OR resolved_ms >= ?7)
         ORDER BY state = 'firing' DESC, rule, cluster, node LIMIT ?8`,
      )
      .all(states[0]!, states[1] ?? states[0]!, filter.cluster ?? null, filter.cluster ?? null, filter.node ?? null, filter.node ?? null, now - RESOLVED_LISTED_MS, MAX_ALERT_ROWS)
    return rows.map(stateRowToRecord).map((alert) => ({
      rule: alert.rule, figure: alert.figure, severity: alert.severity, cluster: alert.cluster, node: alert.node, state: alert.state,
      active_since: iso(alert.activeSinceMs)!, fired_at: iso(alert.firedMs), resolved_at: iso(alert.resolvedMs), value: alert.value, summary: alert.summary,
    }))
  }

  /** The changes of state of the last `hours`, oldest first (the newest MAX_HISTORY_ROWS). */
  history(filter: { hours: number; cluster?: string; rule?: string }, now = Date.now()): Static<typeof AlertTransition>[] {
    type Row = { at_ms: number; rule: string; severity: string; cluster: string; node: string; from_state: string; to_state: string; value: number | null }
    const rows = this.db
      .query<Row, [number, string | null, string | null, string | null, string | null, number]>(
        `SELECT * FROM (
           SELECT at_ms, rule, severity, cluster, node, from_state, to_state, value, id FROM alert_history
           WHERE at_ms >= ?1 AND (?2 IS NULL OR cluster = ?3) AND (?4 IS NULL OR rule = ?5)
           ORDER BY id DESC LIMIT ?6
         ) ORDER BY id`,
      )
      .all(now - filter.hours * 3_600_000, filter.cluster ?? null, filter.cluster ?? null, filter.rule ?? null, filter.rule ?? null, MAX_HISTORY_ROWS)
    return rows.map((row) => ({
      at: iso(row.at_ms)!, rule: row.rule, severity: row.severity, cluster: row.cluster, node: row.node,
      from: row.from_state as Static<typeof AlertTransition>['from'], to: row.to_state as Static<typeof AlertTransition>['to'], value: row.value,
    }))
  }

  /** The rules in force, as the actor stored them. */
  rules(): { source: AlertRulesSource; document: AlertRulesDocument; updatedMs: number } | undefined {
    const row = this.db.query<{ source: AlertRulesSource; document: string; updated_ms: number }, []>('SELECT source, document, updated_ms FROM alert_rules WHERE id = 1').get()
    return row ? { source: row.source, document: JSON.parse(row.document), updatedMs: row.updated_ms } : undefined
  }

  close(): void {
    this.db.close()
  }
}
