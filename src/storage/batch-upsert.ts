import type { Database, Statement } from 'bun:sqlite'

/**
 * Rows per statement the writer prepares, largest first: a few fixed sizes cover any count with
 * few statements (past the multiples of 32, at most 3 + 3 + 1) and only four prepared ones.
 * What a statement costs beside its rows (a call into SQLite, its start and reset) is then shared.
 * Measured on history points alone (rows per CPU-second; `bun bench/writer.ts --sizes …` measures
 * the whole write): 16 or 32 rows per statement write ~15–20 % more than one row, 64 and 128
 * fewer than 32 again — each row still binds its own parameters, and a longer statement costs too.
 */
export const STATEMENT_ROWS: readonly number[] = [32, 8, 2, 1]

type Param = string | number | bigint | boolean | null | Uint8Array

/**
 * A single-row INSERT made multi-row: its VALUES tuple repeated `rows` times, row r's parameters
 * renumbered ?N → ?(N + r × perRow). The rest of the statement (an ON CONFLICT … DO UPDATE that
 * reads only `excluded.` and the stored row) is kept as it is, so each row does exactly what the
 * single-row statement would: SQLite inserts a multi-row VALUES list row by row, in order, and a
 * row that conflicts with one inserted earlier by the same statement runs the DO UPDATE.
 */
export function multiRowSql(sql: string, rows: number, perRow: number): string {
  const at = /\bVALUES\s*\(/i.exec(sql)
  if (!at) throw new Error('multiRowSql: no VALUES tuple')
  const open = at.index + at[0].length - 1
  let depth = 0
  let close = open
  for (; close < sql.length; close++) {
    if (sql[close] === '(') depth++
    else if (sql[close] === ')' && --depth === 0) break
  }
  if (depth !== 0) throw new Error('multiRowSql: the VALUES tuple is not closed')
  const tuple = sql.slice(open, close + 1)
  const rest = sql.slice(close + 1)
  const numbers = [...tuple.matchAll(/\?(\d+)/g)].map((match) => Number(match[1]))
  // Only what this function renumbers may be bound: parameters elsewhere, or past perRow, would bind the wrong values.
  if (/\?/.test(sql.slice(0, open) + rest) || /\?(?!\d)/.test(tuple) || numbers.some((n) => n < 1 || n > perRow)) {
    throw new Error('multiRowSql: parameters must be ?1…?perRow, in the VALUES tuple only')
  }
  const tuples = Array.from({ length: rows }, (_, r) => tuple.replace(/\?(\d+)/g, (_, n: string) => `?${Number(n) + r * perRow}`))
  return `${sql.slice(0, open)}${tuples.join(',\n       ')}${rest}`
}

/**
 * Rows gathered for one single-row INSERT, written with its multi-row forms. `add` only keeps the
 * parameters; `flush` writes what was added, in the order added, and must run inside the
 * transaction the rows belong to.
 */
export class BatchUpsert {
  private readonly statements = new Map<number, Statement<unknown, Param[]>>()
  private readonly sizes: readonly number[]
  private params: Param[] = []

  constructor(
    private readonly db: Database,
    private readonly sql: string,
    private readonly perRow: number,
    sizes: readonly number[] = STATEMENT_ROWS,
  ) {
    this.sizes = [...sizes].sort((a, b) => b - a)
    if (!sizes.includes(1)) throw new Error('BatchUpsert: the sizes must include 1, so any count is covered')
    // SQLite's default SQLITE_MAX_VARIABLE_NUMBER (bun's build allows 250,000): far above what the writer binds (32 × 11).
    if (Math.max(...sizes) * perRow > 32_766) throw new Error('BatchUpsert: too many parameters per statement')
  }

  /** Adds one row: exactly `perRow` parameters, in the single-row statement's order (?1…). */
  add(params: readonly Param[]): void {
    for (const param of params) this.params.push(param)
  }

  /** Rows added and not yet written. */
  get pending(): number {
    return this.params.length / this.perRow
  }

  /** Writes the rows added, largest statements first; forgets them even if SQLite fails (the transaction is undone). */
  flush(): void {
    const params = this.params
    this.params = []
    let rows = params.length / this.perRow
    let at = 0
    for (const size of this.sizes) {
      if (size > rows) continue
      const statement = this.statement(size)
      const width = size * this.perRow
      for (; rows >= size; rows -= size, at += width) statement.run(...params.slice(at, at + width))
    }
  }

  /** Forgets rows added (the transaction they belonged to failed). */
  clear(): void {
    this.params = []
  }

  private statement(rows: number): Statement<unknown, Param[]> {
    let statement = this.statements.get(rows)
    if (!statement) {
      // On first use: a size never needed costs nothing.
      statement = this.db.prepare<unknown, Param[]>(rows === 1 ? this.sql : multiRowSql(this.sql, rows, this.perRow))
      this.statements.set(rows, statement)
    }
    return statement
  }
}
