import type { LatestExtras } from '../figures/derive'
import { LATEST_EXTRAS } from '../model/figures'

/** One node's newest metrics, ready for the writer: its figures plus the snapshot's JSON bytes. */
export interface NodeRow extends LatestExtras {
  cluster: string
  node: string
  /** the snapshot's own time (the agent's clock), epoch ms */
  snapshotMs: number
  /** the registry's figures (model/figures.ts), in its order; null: not reported or dropped */
  values: (number | null)[]
  /** the node's JSON as the agent sent it (a slice of its body), UTF-8 */
  json: Uint8Array
  /** when the master received the snapshot (epoch ms, its own clock), set by the writer from its batch */
  receivedMs?: number
}

/**
 * Rows cross two threads on every snapshot, so they travel in a form that costs almost nothing
 * to post: a string header with every row's figures, and the snapshots' JSON bytes back to back
 * in one buffer that is transferred, not copied. The bytes go into SQLite as they are, and the
 * gateway sends them out as they are.
 */
export interface EncodedRows {
  header: string
  bytes: Uint8Array
}

const EXTRAS = LATEST_EXTRAS.map((extra) => extra.key)

type Header = [cluster: string, node: string, snapshotMs: number, byteLength: number, values: (number | null)[], ...extras: unknown[]][]

export function encodeRows(rows: readonly NodeRow[]): EncodedRows {
  const header: Header = rows.map((row) => [row.cluster, row.node, row.snapshotMs, row.json.byteLength, row.values, ...EXTRAS.map((key) => row[key])])
  return { header: JSON.stringify(header), bytes: concatBytes(rows.map((row) => row.json)) }
}

export function decodeRows({ header, bytes }: EncodedRows): NodeRow[] {
  let offset = 0
  return (JSON.parse(header) as Header).map(([cluster, node, snapshotMs, byteLength, values, ...extras]) => {
    const row = { cluster, node, snapshotMs, values, json: bytes.subarray(offset, offset + byteLength) } as Record<string, unknown>
    offset += byteLength
    EXTRAS.forEach((key, at) => (row[key] = extras[at]))
    return row as unknown as NodeRow
  })
}

/**
 * Joins byte arrays into a buffer of their own. Buffer.concat may hand out a slice of Node's
 * shared pool, and transferring that would detach every other buffer living in it; a zeroed
 * `new Uint8Array` of megabytes costs a collection now and then, which shows in latency tails.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const joined = Buffer.allocUnsafeSlow(parts.reduce((total, part) => total + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.byteLength
  }
  return joined
}

/** The buffers to list as transferables when posting encoded rows. */
export const transferablesOf = (rows: EncodedRows): ArrayBuffer[] => [rows.bytes.buffer as ArrayBuffer]

/** The figures of each row in a header, without its bytes: what the alerts actor judges (it never needs the snapshots). */
export function* headerFigures(header: string): Iterable<{ cluster: string; node: string; snapshotMs: number; values: (number | null)[] }> {
  for (const [cluster, node, snapshotMs, , values] of JSON.parse(header) as Header) yield { cluster, node, snapshotMs, values }
}
