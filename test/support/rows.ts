import { deriveFigures } from '../../src/figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../../src/figures/network'
import type { NodeMetricsSnapshot } from '../../src/model'
import type { NodeRow } from '../../src/storage/node-rows'

export const DERIVE = { netExclude: new RegExp(DEFAULT_NET_EXCLUDE) }

/** A writer row for a snapshot, as the ingest thread makes it (the JSON re-serialised: tests only). */
export function rowOf(cluster: string, snapshot: NodeMetricsSnapshot, ts = Number(snapshot.timestamp)): NodeRow {
  const { values, extras } = deriveFigures(snapshot, DERIVE)
  return { cluster, node: snapshot.node_name, snapshotMs: ts, values, ...extras, json: Buffer.from(JSON.stringify(snapshot)) }
}
