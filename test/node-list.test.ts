import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openReadConnection, openWriteConnection } from '../src/storage/connection'
import { MetricsReader } from '../src/storage/metrics-reader'
import { MetricsWriter } from '../src/storage/metrics-writer'
import { getJson, postSnapshot, useMaster } from './support/master'
import { rowOf } from './support/rows'
import { clusterSnapshot, nodeSnapshot } from './support/snapshots'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * A cluster's node list is read in one transaction: figures (the summary's input) and snapshots
 * (the node map) describe the same state of the database even when a commit comes in between.
 */

test('a commit between the figures read and the snapshots read does not reach the node list', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-node-list-'))
  const path = join(dir, 'metrics.db')
  const db = openWriteConnection(path)
  const readDb = openReadConnection(path)
  try {
    const writer = new MetricsWriter(db, { sampleIntervalMs: 60_000, retentionMs: 86_400_000, retentionHourlyMs: 86_400_000 })
    const now = Date.now()
    writer.write([rowOf('c', nodeSnapshot('n1', now - 1_000))], now)
    const reader = new MetricsReader(readDb)
    // The writer commits a new node the moment the figures have been read, as the writer thread could.
    const figuresStatement = (reader as any).listFiguresStatement
    const readFigures = figuresStatement.all.bind(figuresStatement)
    let commits = 0
    figuresStatement.all = (...args: unknown[]) => {
      const rows = readFigures(...args)
      writer.write([rowOf('c', nodeSnapshot(`late${commits++}`, now))], now)
      return rows
    }
    const list = reader.nodeList('c')
    expect(commits).toBe(1)
    expect(list.figures.map((row) => row.node_name)).toEqual(['n1'])
    expect(list.snapshots.map((row) => row.node_name)).toEqual(['n1'])
    // Two separate reads would have seen the commit: the next list does.
    expect(reader.listSnapshots('c').map((row) => row.node_name)).toEqual(['late0', 'n1'])
    expect(readDb.inTransaction).toBe(false)
  } finally {
    readDb.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

const master = useMaster()

test('under concurrent writes, the summary of every node list counts exactly the nodes in its map', async () => {
  // One agent adds a node per snapshot while node lists are read as fast as they come.
  const base = Date.now() - 60_000
  let writing = true
  const agent = (async () => {
    for (let count = 1; count <= 40; count++) {
      const nodes = Array.from({ length: count }, (_, index) => nodeSnapshot(`n${String(index).padStart(3, '0')}`, base + count * 10))
      const response = await postSnapshot(master.ingest, clusterSnapshot('grow', nodes), { clusterId: 'grow' })
      expect(response.status).toBe(200)
    }
    writing = false
  })()
  let lists = 0
  const checks = [0, 1, 2].map(async () => {
    while (writing) {
      const [own, atlhyper] = await Promise.all([
        getJson(`${master.api}/api/v2/clusters/grow/node-metrics`),
        getJson(`${master.api}/api/v2/node-metrics?cluster_id=grow`),
      ])
      const names = Object.keys(own.body.nodes)
      expect(own.body.summary.metrics_nodes).toBe(names.length)
      expect(Object.keys(own.body.node_figures)).toEqual(names)
      expect(Object.keys(own.body.node_status)).toEqual(names)
      expect(atlhyper.body.summary.total_nodes).toBe(atlhyper.body.nodes.length)
      lists++
    }
  })
  await Promise.all([agent, ...checks])
  expect(lists).toBeGreaterThan(0)
  const final = await getJson(`${master.api}/api/v2/clusters/grow/node-metrics`)
  expect(final.body.summary.metrics_nodes).toBe(40)
}, 30_000)
