import { expect, test } from 'bun:test'
import { deriveFigures } from '../src/metrics/derive'
import { decodeRows, encodeRows, type NodeRow } from '../src/storage/node-rows'
import { nodeSnapshot } from './support/snapshots'

const utf8 = (text: string) => new TextEncoder().encode(text)

test('node rows survive the trip between threads unchanged, multi-byte characters included', () => {
  const node = { ...nodeSnapshot("n1", 1_795_000_000_000), os: "line one\nline two" }
  const rows: NodeRow[] = [
    { cluster: 'c', node: 'n1', ts: 1_795_000_000_000, json: utf8(JSON.stringify(node)), ...deriveFigures(node) },
    { cluster: 'c', node: 'nœud-2', ts: 1, json: utf8('{"node_name":"nœud-2"}'), ...deriveFigures({ node_name: 'n2', timestamp: 1 }) },
  ]
  const encoded = encodeRows(rows)
  // A buffer of its own, so transferring it detaches nothing else.
  expect(encoded.bytes.byteOffset).toBe(0)
  expect(encoded.bytes.buffer.byteLength).toBe(encoded.bytes.byteLength)
  expect(decodeRows(encoded)).toEqual(rows)
  expect(decodeRows(encodeRows([]))).toEqual([])
})

test('figures: missing groups are null, not zero', () => {
  expect(deriveFigures({ node_name: 'n', timestamp: 0 })).toEqual({
    cpu: null, mem: null, temp: null, cores: null, memTotal: null, memUsed: null, diskMax: null, diskMaxMount: null,
    diskPrimary: null, netRx: null, netTx: null,
  })
})

test('figures: the primary disk is "/" else the first; the network rate skips loopback and down interfaces', () => {
  const figures = deriveFigures({
    node_name: 'n', timestamp: 0,
    disks: [{ mount_point: '/boot', usage_percent: 90 }, { mount_point: '/', usage_percent: 20 }],
    networks: [
      { interface: 'eth0', status: 'up', rx_rate: 10, tx_rate: 1 },
      { interface: 'eth1', status: 'UP', rx_rate: 5, tx_rate: 2 },
      { interface: 'eth2', status: 'down', rx_rate: 1000, tx_rate: 1000 },
      { interface: 'lo', status: 'up', rx_rate: 1000, tx_rate: 1000 },
    ],
  })
  expect(figures).toMatchObject({ diskPrimary: 20, diskMax: 90, diskMaxMount: '/boot', netRx: 15, netTx: 3 })
  expect(deriveFigures({ node_name: 'n', timestamp: 0, disks: [{ mount_point: '/var', usage_percent: 7 }] }).diskPrimary).toBe(7)
})
