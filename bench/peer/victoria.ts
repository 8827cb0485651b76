/**
 * `bun run bench --peer`: VictoriaMetrics (the Debian package's `/usr/bin/victoria-metrics`) fed
 * and queried like the master, side by side, on this machine in the same run. Each part gets a
 * fresh VictoriaMetrics in a temp dir, run while the master is not:
 * - ingest: the master's ingest rounds (the same node snapshots, timestamps, clients at once),
 *   every numeric field of a node a series (flatten.ts), posted gzipped to `/api/v1/import`;
 *   the rate is of node snapshots answered 204;
 * - storage: the query bench's history (bench/prefill.ts's figures) as series of each figure's
 *   average, peak and count per 5-minute bucket (history.ts), flushed and merged, bytes of its
 *   data and index on disk after it stopped, per point (one node's bucket, all its figures);
 * - queries: a node's 24 h and 30 d of every figure's average and peak through
 *   `/api/v1/query_range` at the 5-minute step, the same nodes in the same order as the master's.
 *
 * Also runnable alone, without the master: `bun bench/peer/victoria.ts [--quick] [--totals 1000,10000] [--out FILE]`
 * (`--totals`: only these fleet sizes in the ingest part; the 100,000-node ones take most of its 15 minutes).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { percentile } from '../../src/simulator/stats'
import { fleet } from '../../src/simulator/fleet'
import { closedLoop } from '../http-load'
import { workload, type Workload } from '../workload'
import { importRound, type ImportRequest } from './flatten'
import { HISTORY_QUERY_NAMES, HISTORY_QUERY_SERIES, SERIES_PER_POINT, historyLines, historySeries, sharedParts } from './history'
import { VICTORIA_BIN, VICTORIA_FLAGS, startVictoria, victoriaVersion, type Victoria } from './victoria-process'

export interface PeerIngestRow {
  nodes: number
  nodesPerSnapshot: number
  concurrency: number
  nodeSnapshots: number
  samplesPerNodeSnapshot: number
  errors: number
  ackPerSecond: number
  samplesPerSecond: number
  peakRssBytes: number
}

interface StorageVariant {
  nodes: number
  points: number
  dataBytes: number
  indexBytes: number
  /** data and index bytes per point: one node's 5-minute bucket with every figure's average, peak and count */
  bytesPerPoint: number
  bytesPerSample: number
  importSeconds: number
}

export interface PeerResults {
  peer: 'VictoriaMetrics'
  binary: string
  version: string
  flags: string[]
  ingest: PeerIngestRow[]
  storage?: { days: number; samplesPerPoint: number; rounded: StorageVariant; fullPrecision: StorageVariant }
  query?: { nodes: number; days: number; seriesPerAnswer: number; alone: Record<'history24h' | 'history30d', { p50: number; p99: number }>; peakRssBytes: number }
  /** ratio = master ÷ VictoriaMetrics; `better` says which direction wins (ingest: higher; bytes and ms: lower) */
  comparison?: { figure: string; master: number; victoria: number; ratio: number; better: 'higher' | 'lower' }[]
}

export interface PeerIngestInput {
  load: Workload
  nodes: number
  nodesPerSnapshot: number
  /** the master's warm-up round is at `base`, its timed rounds at base + 1 s, + 2 s, … */
  base: number
  rounds: number
  concurrency: number
}

export interface PeerHistoryInput {
  clusterId: string
  nodeNames: string[]
  days: number
  samples: number
  /** the master bench's choice of node for query i */
  pick: (index: number) => string
}

const importPost = (url: string, request: ImportRequest) =>
  fetch(`${url}/api/v1/import`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: request.body })

async function started(): Promise<Victoria> {
  const victoria = await startVictoria()
  if (!victoria) throw new Error(`${VICTORIA_BIN} went missing during the run`)
  return victoria
}

/** Ingest throughput: the master's rounds, prepared before the clock starts as the master's are. */
async function ingest(input: PeerIngestInput, log: (line: string) => void): Promise<PeerIngestRow> {
  const warm = importRound(input.load, input.base)
  const timed = Array.from({ length: input.rounds }, (_, r) => importRound(input.load, input.base + (r + 1) * 1000)).flat()
  const victoria = await started()
  const warmResult = await closedLoop(victoria.url, warm, input.concurrency, importPost, 204)
  const result = await closedLoop(victoria.url, timed, input.concurrency, importPost, 204)
  const peakRssBytes = victoria.peakRssBytes()
  await victoria.stop()
  const errors = warmResult.errors + result.errors
  if (errors > 0) log(`  VictoriaMetrics errors: ${errors} (last: ${result.lastError ?? warmResult.lastError})`)
  const samples = timed.reduce((sum, request) => sum + request.samples, 0)
  return {
    nodes: input.nodes, nodesPerSnapshot: input.nodesPerSnapshot, concurrency: input.concurrency,
    nodeSnapshots: result.acknowledgedNodes, samplesPerNodeSnapshot: Number((samples / result.acknowledgedNodes).toFixed(1)), errors,
    ackPerSecond: Math.round(result.acknowledgedNodes / result.seconds), samplesPerSecond: Math.round(samples / result.seconds), peakRssBytes,
  }
}

/**
 * Imports the history of `nodeNames` (node i of the query cluster is the master's row id i + 1),
 * a few nodes a request, four requests at a time: one VictoriaMetrics import request parses on
 * about one core, and the lines are made while others are parsed. Returns the seconds it took.
 */
async function importHistory(victoria: Victoria, input: PeerHistoryInput, nodeNames: string[], now: number, rounded: boolean): Promise<number> {
  const shared = sharedParts(historySeries(1, input.days, now, rounded))
  const nodesPerRequest = 5
  let next = 0
  const startedAt = performance.now()
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < nodeNames.length) {
        const from = next
        next += nodesPerRequest
        const text = nodeNames
          .slice(from, from + nodesPerRequest)
          .map((node, offset) => historyLines(input.clusterId, node, historySeries(from + offset + 1, input.days, now, rounded), shared))
          .join('')
        const response = await fetch(`${victoria.url}/api/v1/import`, { method: 'POST', body: text })
        if (response.status !== 204) throw new Error(`importing history answered ${response.status}: ${(await response.text()).slice(0, 200)}`)
      }
    }),
  )
  await victoria.flush()
  return (performance.now() - startedAt) / 1000
}

/** Every figure's average and peak of `node` from `start` to `end` (seconds) at the 5-minute step. */
const rangeUrl = (victoria: Victoria, input: PeerHistoryInput, node: string, start: number, end: number) => {
  const selector = `{cluster=${JSON.stringify(input.clusterId)},node=${JSON.stringify(node)},__name__=~"${HISTORY_QUERY_NAMES}"}`
  return `${victoria.url}/api/v1/query_range?query=${encodeURIComponent(selector)}&start=${start}&end=${end}&step=300`
}

/** The last `hours` up to now, as the master's `history?hours=`. */
const lastHours = (victoria: Victoria, input: PeerHistoryInput, node: string, hours: number) => {
  const end = Math.floor(Date.now() / 1000)
  return rangeUrl(victoria, input, node, end - hours * 3600, end)
}

/** Series and the fewest points of any, of an answer (checked, never timed). */
async function rangeAnswer(url: string) {
  const response = await fetch(url)
  const answer = (await response.json()) as { status: string; data: { result: { values: unknown[] }[] } }
  if (response.status !== 200 || answer.status !== 'success') throw new Error(`query_range answered ${response.status}: ${JSON.stringify(answer).slice(0, 200)}`)
  return { series: answer.data.result.length, points: Math.min(...answer.data.result.map((series) => series.values.length)) }
}

/** Waits until every imported series is there and the last node's whole history can be read. */
async function searchable(victoria: Victoria, input: PeerHistoryInput, nodeNames: string[], timestamps: number[]) {
  const url = rangeUrl(victoria, input, nodeNames.at(-1)!, timestamps[0]! / 1000, timestamps.at(-1)! / 1000)
  const deadline = Date.now() + 60_000
  for (;;) {
    const count = (await (await fetch(`${victoria.url}/api/v1/series/count`)).json()) as { data: number[] }
    const answer = await rangeAnswer(url)
    if (count.data[0] === nodeNames.length * SERIES_PER_POINT && answer.series === HISTORY_QUERY_SERIES && answer.points === timestamps.length) return
    if (Date.now() > deadline) throw new Error(`imported history not searchable after a minute: ${count.data[0]} series, last node ${JSON.stringify(answer)}`)
    await Bun.sleep(200)
  }
}

async function latencies(victoria: Victoria, input: PeerHistoryInput) {
  const figures = {} as Record<'history24h' | 'history30d', { p50: number; p99: number }>
  for (const [name, hours] of [['history24h', 24], ['history30d', 720]] as const) {
    for (let i = 0; i < 5; i++) await (await fetch(lastHours(victoria, input, input.pick(i), hours))).arrayBuffer()
    const times: number[] = []
    for (let i = 0; i < input.samples; i++) {
      const url = lastHours(victoria, input, input.pick(i), hours)
      const startedAt = performance.now()
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`)
      times.push(performance.now() - startedAt)
    }
    times.sort((a, b) => a - b)
    figures[name] = { p50: Number(percentile(times, 50)!.toFixed(2)), p99: Number(percentile(times, 99)!.toFixed(2)) }
  }
  return figures
}

function storageVariant(bytes: { dataBytes: number; indexBytes: number }, nodes: number, points: number, importSeconds: number): StorageVariant {
  const total = bytes.dataBytes + bytes.indexBytes
  return {
    nodes, points, ...bytes,
    bytesPerPoint: Number((total / points).toFixed(2)), bytesPerSample: Number((total / points / SERIES_PER_POINT).toFixed(3)),
    importSeconds: Number(importSeconds.toFixed(1)),
  }
}

/** Stores `nodeNames`' history in a fresh VictoriaMetrics, searchable and merged; `use` runs before it stops. */
async function storeHistory(input: PeerHistoryInput, nodeNames: string[], now: number, rounded: boolean, use: (victoria: Victoria) => Promise<void>) {
  const { timestamps } = historySeries(1, input.days, now, rounded)
  const victoria = await started()
  const importSeconds = await importHistory(victoria, input, nodeNames, now, rounded)
  await searchable(victoria, input, nodeNames, timestamps)
  // Merged into one part per month, as background merges leave data that no longer changes.
  await victoria.merge()
  await use(victoria)
  return storageVariant(await victoria.stop(), nodeNames.length, nodeNames.length * timestamps.length, importSeconds)
}

/**
 * Storage and query latency on the query bench's history. Full precision is stored a second
 * time for its bytes only, of the first 100 nodes: bytes per point hardly depend on the number
 * of nodes (each series compresses alone; the index is per series, amortised over its points),
 * and the whole cluster's import takes minutes.
 */
async function history(input: PeerHistoryInput, log: (line: string) => void): Promise<Pick<PeerResults, 'storage' | 'query'>> {
  const now = Date.now()
  let query: PeerResults['query']
  const rounded = await storeHistory(input, input.nodeNames, now, true, async (victoria) => {
    const alone = await latencies(victoria, input)
    const check = await rangeAnswer(lastHours(victoria, input, input.pick(0), 720))
    query = { nodes: input.nodeNames.length, days: input.days, seriesPerAnswer: check.series, alone, peakRssBytes: victoria.peakRssBytes() }
  })
  log(`  VictoriaMetrics: ${rounded.bytesPerPoint} B/history point rounded (import ${rounded.importSeconds} s); alone: ${JSON.stringify(query!.alone)}`)
  const fullPrecision = await storeHistory(input, input.nodeNames.slice(0, 100), now, false, async () => {})
  log(`  VictoriaMetrics: ${fullPrecision.bytesPerPoint} B/history point full precision, ${fullPrecision.nodes} nodes (import ${fullPrecision.importSeconds} s)`)
  return { storage: { days: input.days, samplesPerPoint: SERIES_PER_POINT, rounded, fullPrecision }, query }
}

/** The master's figures the peer is set beside (what bench/run.ts measured). */
export interface MasterFigures {
  ingest: { nodes: number; nodesPerSnapshot: number; ackPerSecond: number }[]
  bytesPerHistoryPoint?: number
  alone?: Record<string, { p50: number; p99: number }>
}

function comparison(master: MasterFigures, peer: PeerResults): NonNullable<PeerResults['comparison']> {
  const rows: NonNullable<PeerResults['comparison']> = []
  const add = (figure: string, mine: number | undefined, theirs: number | undefined, better: 'higher' | 'lower' = 'lower') => {
    if (mine === undefined || theirs === undefined) return
    rows.push({ figure, master: mine, victoria: theirs, ratio: Number((mine / theirs).toFixed(2)), better })
  }
  for (const row of peer.ingest) {
    const mine = master.ingest.find((candidate) => candidate.nodes === row.nodes && candidate.nodesPerSnapshot === row.nodesPerSnapshot)
    add(`ingest ${row.nodes.toLocaleString('en')} nodes, ${row.nodesPerSnapshot} per snapshot: node-snapshots/s`, mine?.ackPerSecond, row.ackPerSecond, 'higher')
  }
  add('storage: B per history point (VM: values rounded as ours)', master.bytesPerHistoryPoint, peer.storage?.rounded.bytesPerPoint)
  add('storage: B per history point (VM: full precision)', master.bytesPerHistoryPoint, peer.storage?.fullPrecision.bytesPerPoint)
  for (const [name, label] of [['history24h', '24 h'], ['history30d', '30 d']] as const) {
    add(`${label} history of a node alone: p50 ms`, master.alone?.[name]?.p50, peer.query?.alone[name].p50)
    add(`${label} history of a node alone: p99 ms`, master.alone?.[name]?.p99, peer.query?.alone[name].p99)
  }
  return rows
}

export interface VictoriaPeer {
  ingest(input: PeerIngestInput): Promise<void>
  history(input: PeerHistoryInput): Promise<void>
  /** everything measured, with the comparison to the master's figures when given */
  results(master?: MasterFigures): PeerResults
}

/** The peer, or undefined (after saying so) when VictoriaMetrics is not installed. */
export function victoriaPeer(log: (line: string) => void): VictoriaPeer | undefined {
  if (!existsSync(VICTORIA_BIN)) {
    log(`peer: ${VICTORIA_BIN} not found, VictoriaMetrics skipped (Debian: apt install victoria-metrics)`)
    return undefined
  }
  const collected: PeerResults = { peer: 'VictoriaMetrics', binary: VICTORIA_BIN, version: '', flags: VICTORIA_FLAGS, ingest: [] }
  return {
    ingest: async (input) => {
      log(`peer: VictoriaMetrics ingest ${input.nodes} nodes, ${input.nodesPerSnapshot} per snapshot`)
      const row = await ingest(input, log)
      collected.ingest.push(row)
      log(`  VictoriaMetrics: ${row.ackPerSecond} node-snapshots/s answered 204 (${row.samplesPerSecond} samples/s, ${row.samplesPerNodeSnapshot} per node snapshot); peak RSS ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB`)
    },
    history: async (input) => {
      log(`peer: VictoriaMetrics history of ${input.days} days × ${input.nodeNames.length} nodes`)
      Object.assign(collected, await history(input, log))
    },
    results: (master) => {
      collected.version = victoriaVersion()
      return master ? { ...collected, comparison: comparison(master, collected) } : collected
    },
  }
}

/** The side-by-side table: ratio = master ÷ VictoriaMetrics, and who is ahead by how much. */
export function peerTable(peer: PeerResults): string {
  const lines = [`side by side with VictoriaMetrics ${peer.version} (${peer.binary}), the same data on this machine`]
  const fmt = (value: number) => value.toLocaleString('en', { maximumFractionDigits: 2 })
  if (peer.comparison) {
    lines.push(`  ${'figure'.padEnd(58)} ${'master'.padStart(10)} ${'VictoriaMetrics'.padStart(16)} ${'ratio'.padStart(7)}   ahead`)
    for (const row of peer.comparison) {
      const masterAhead = row.better === 'higher' ? row.ratio >= 1 : row.ratio <= 1
      const factor = Math.max(row.ratio, 1 / row.ratio)
      const ahead = `${masterAhead ? 'master' : 'VM'} ×${fmt(Number(factor.toFixed(2)))}${row.figure.startsWith('ingest') ? ' (target: master ×2)' : ''}`
      lines.push(`  ${row.figure.padEnd(58)} ${fmt(row.master).padStart(10)} ${fmt(row.victoria).padStart(16)} ${fmt(row.ratio).padStart(7)}   ${ahead}`)
    }
  }
  for (const row of peer.ingest) {
    lines.push(`  VictoriaMetrics ingest ${row.nodes} × ${row.nodesPerSnapshot}: ${fmt(row.ackPerSecond)} node-snapshots/s, ${fmt(row.samplesPerSecond)} samples/s ` +
      `(${row.samplesPerNodeSnapshot} per node snapshot), ${row.concurrency} clients, peak RSS ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB`)
  }
  if (peer.storage) {
    const { rounded, fullPrecision } = peer.storage
    lines.push(`  VictoriaMetrics storage, points of ${peer.storage.samplesPerPoint} samples: rounded ${rounded.bytesPerPoint} B/point, ${rounded.bytesPerSample} B/sample ` +
      `(${fmt(rounded.points)} points; data ${fmt(rounded.dataBytes)} B, index ${fmt(rounded.indexBytes)} B); ` +
      `full precision ${fullPrecision.bytesPerPoint} B/point, ${fullPrecision.bytesPerSample} B/sample (${fullPrecision.nodes} nodes)`)
  }
  lines.push('  VictoriaMetrics answers an import once it has parsed and buffered it in memory; the master after its commit.')
  return lines.join('\n')
}

if (import.meta.main) {
  // The peer alone, sized as bench/run.ts sizes its own sections (keep the two plans alike).
  const { values: args } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, totals: { type: 'string' }, out: { type: 'string', default: 'bench/results/peer.json' } },
  })
  const plan = args.quick
    ? { totals: [1_000], perSnapshot: [10, 100], timedNodes: 5_000, queryNodes: 100, queryDays: 2, samples: 40 }
    : { totals: [1_000, 10_000, 100_000], perSnapshot: [10, 100], timedNodes: 100_000, queryNodes: 1_000, queryDays: 30, samples: 400 }
  if (args.totals) plan.totals = args.totals.split(',').map(Number)
  const log = (line: string) => console.log(`[bench] ${line}`)
  const peer = victoriaPeer(log)
  if (peer) {
    for (const total of plan.totals) {
      for (const perSnapshot of plan.perSnapshot) {
        const load = workload(total, perSnapshot)
        const concurrency = Math.min(load.clusters.length, 32)
        const rounds = Math.max(1, Math.ceil(plan.timedNodes / load.nodeCount))
        await peer.ingest({ load, nodes: total, nodesPerSnapshot: perSnapshot, base: Date.now() - 30 * 60_000, rounds, concurrency })
      }
    }
    // The query bench's cluster: prefill.ts's `workload(nodes, nodes, 'q-')`, one cluster.
    const [cluster] = fleet(1, plan.queryNodes)
    const nodeNames = cluster!.nodes.map((node) => node.name)
    await peer.history({ clusterId: `q-${cluster!.clusterId}`, nodeNames, days: plan.queryDays, samples: plan.samples, pick: (index) => nodeNames[(index * 7919) % nodeNames.length]! })
    const results = peer.results()
    mkdirSync(dirname(args.out), { recursive: true })
    writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`\n${peerTable(results)}\n\nwritten to ${args.out}`)
  }
}
