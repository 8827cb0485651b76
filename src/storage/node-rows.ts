import type { NodeFigures } from '../metrics/derive'

/** One node's newest metrics, ready for the writer: its figures plus the snapshot JSON. */
export interface NodeRow extends NodeFigures {
  cluster: string
  node: string
  /** epoch milliseconds of the snapshot */
  ts: number
  json: string
}

/**
 * Rows cross two threads on every snapshot. Posting a string costs almost nothing while posting
 * objects costs a structured clone per field, so rows travel as one string: a JSON header line
 * with every row's figures, then each snapshot's JSON on a line of its own (JSON.stringify never
 * writes a raw newline, so the lines cannot run into each other).
 */
const FIGURES = ['cpu', 'mem', 'temp', 'cores', 'memTotal', 'memUsed', 'diskMax', 'diskMaxMount', 'diskPrimary', 'netRx', 'netTx'] as const

type Header = [cluster: string, node: string, ts: number, ...figures: unknown[]][]

export function encodeRows(rows: NodeRow[]): string {
  const header: Header = rows.map((row) => [row.cluster, row.node, row.ts, ...FIGURES.map((key) => row[key])])
  return [JSON.stringify(header), ...rows.map((row) => row.json)].join('\n')
}

export function decodeRows(encoded: string): NodeRow[] {
  const lines = encoded.split('\n')
  const header = JSON.parse(lines[0]!) as Header
  return header.map(([cluster, node, ts, ...figures], index) => {
    const row = { cluster, node, ts, json: lines[index + 1]! } as Record<string, unknown>
    FIGURES.forEach((key, at) => (row[key] = figures[at]))
    return row as unknown as NodeRow
  })
}
