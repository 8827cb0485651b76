import { expect, test } from 'bun:test'
import { decodeRows, encodeRows, type NodeRow } from '../src/storage/node-rows'
import { rowOf } from './support/rows'
import { nodeSnapshot } from './support/snapshots'

const utf8 = (text: string) => new TextEncoder().encode(text)

test('node rows survive the trip between threads unchanged, multi-byte characters included', () => {
  const node = { ...nodeSnapshot('n1', 1_795_000_000_000), os: 'line one\nline two' }
  const rows: NodeRow[] = [
    rowOf('c', node),
    { ...rowOf('c', { node_name: 'nœud-2', timestamp: 1 }), json: utf8('{"node_name":"nœud-2","big":9223372036854775807}') },
  ]
  const encoded = encodeRows(rows)
  // A buffer of its own, so transferring it detaches nothing else.
  expect(encoded.bytes.byteOffset).toBe(0)
  expect(encoded.bytes.buffer.byteLength).toBe(encoded.bytes.byteLength)
  expect(decodeRows(encoded)).toEqual(rows)
  expect(decodeRows(encodeRows([]))).toEqual([])
})
