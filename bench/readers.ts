/**
 * Agents' acknowledgement latency while dashboards read a big cluster's node list.
 *
 * One master (a child process) holds a 1,000-node cluster whose agent posts 100 of its nodes
 * every second (each node every 10 s), so its node list — megabytes of JSON, cached until the
 * cluster's data changes — is rebuilt every second while readers poll it: the realistic worst case.
 * Ten other clusters of ten nodes each post at a steady pace, every 100–200 ms (~670
 * node-snapshots/s, a few per cent of the ingest capacity), so latency, not throughput, is measured.
 * Each agent request's time to its acknowledgement is measured for a fixed duration with no
 * readers, then with 20 closed-loop readers each fetching `GET /api/v2/clusters/{id}/node-metrics`
 * of the big cluster and reading the whole body.
 *
 * The readers run in a process of their own (bench/dashboard-readers.ts), as dashboards do: in
 * this process their megabytes of bodies and their garbage collection delayed the agents' own
 * timers, which measured as the master's latency. They still share the machine's cores.
 *
 * `bun run bench` runs it as one of its sections; `bun bench/readers.ts [--seconds 20] [--out FILE]`
 * runs it alone (also against an older checkout, copied in: it needs only bench/http-load.ts,
 * bench/workload.ts and test/support/master-process.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { spawnMaster, type MasterProcess } from '../test/support/master-process'
import { percentile } from '../src/simulator/stats'
import { post } from './http-load'
import { round, workload, type Request, type Workload } from './workload'

export interface LatencyFigures {
  count: number
  errors: number
  p50: number
  p99: number
  max: number
}

export interface ReaderFigures extends LatencyFigures {
  readers: number
  /** the readers revalidate as browsers do (If-None-Match with the last ETag: 304 while unchanged) */
  revalidate: boolean
  /** answers that were 304 Not Modified */
  notModified: number
  requestsPerSecond: number
  mibPerSecond: number
  bodyBytes: number
}

export interface AckPhase {
  readers: number
  seconds: number
  /** acknowledgements of the small clusters' agents, ms */
  ack: LatencyFigures
  /** acknowledgements of the big cluster's agent (100 nodes a post), ms */
  bigClusterAck: LatencyFigures
  readerFigures?: ReaderFigures
  /** CPU time of the master's threads during the phase, ms: main, each Worker (in start order), runtime helpers */
  masterCpuMs: Record<string, number>
  /** CPU time of the benchmark process (agents and readers, user + system) during the phase, ms */
  benchCpuMs: number
  /** the whole machine's busy share of all its cores during the phase, % */
  machineBusyPercent: number
}

export interface AckUnderReaders {
  bigClusterNodes: number
  bigClusterChange: string
  agents: string
  none: AckPhase
  /** readers that revalidate as a browser's dashboard does: the list whenever it changed, 304 otherwise */
  withReaders: AckPhase
  /** readers that never revalidate: every answer the whole list, megabytes each, as fast as they can */
  withNaiveReaders: AckPhase
  /** p99(revalidating readers) / p99(none) */
  ratio: number
  /** p99(naive readers) / p99(none) */
  naiveRatio: number
  bound: number
}

const BIG_NODES = 1_000
const BIG_SUBSET = 100
const BIG_EVERY_MS = 1_000
const AGENT_CLUSTERS = 10
const AGENT_NODES = 10
const READERS = 20
const WARM_MS = 1_000

export const round2 = (value: number) => Number(value.toFixed(2))

export function figures(times: number[], errors: number): LatencyFigures {
  const sorted = [...times].sort((a, b) => a - b)
  return {
    count: times.length,
    errors,
    p50: round2(percentile(sorted, 50) ?? 0),
    p99: round2(percentile(sorted, 99) ?? 0),
    max: round2(sorted.at(-1) ?? 0),
  }
}

/** CPU time (ms) of each of the master's threads, by thread id. */
function threadCpu(pid: number): Map<string, { name: string; ms: number }> {
  const tick = 1000 / 100 // USER_HZ
  const threads = new Map<string, { name: string; ms: number }>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      threads.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * tick })
    } catch {
      // the thread ended meanwhile
    }
  }
  return threads
}

function cpuBetween(before: Map<string, { name: string; ms: number }>, after: Map<string, { name: string; ms: number }>, pid: number) {
  const result: Record<string, number> = { main: 0 }
  let worker = 0
  let helpers = 0
  for (const [tid, { name, ms }] of [...after].sort((a, b) => Number(a[0]) - Number(b[0]))) {
    const spent = ms - (before.get(tid)?.ms ?? 0)
    if (tid === String(pid)) result.main = spent
    else if (name === 'Worker') result[`worker${++worker}`] = spent
    else helpers += spent
  }
  result.helpers = helpers
  return result
}

/** The machine's busy and total CPU time so far (all cores, ticks). */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  return { busy: total - fields[3]! - fields[4]!, total }
}

/** One body per post of the big cluster: 100 of its nodes, in turn, with newer timestamps. */
function bigClusterPosts(load: Workload, count: number, firstIndex: number, ts: () => number): Request[] {
  const { clusterId, nodes } = load.clusters[0]!
  return Array.from({ length: count }, (_, index) => {
    const start = ((firstIndex + index) * BIG_SUBSET) % nodes.length
    const subset = nodes.slice(start, start + BIG_SUBSET)
    const at = ts()
    const nodeMetrics = subset.map((node) => `${JSON.stringify(node.name)}:${node.head}${at}${node.tail}`).join(',')
    const text = `{"cluster_id":${JSON.stringify(clusterId)},"fetched_at":${at},"pods":[],"node_metrics":{${nodeMetrics}}}`
    return { clusterId, nodes: subset.length, body: Bun.gzipSync(Buffer.from(text)) }
  })
}

/**
 * Posts on a fixed schedule (open loop: a slow answer does not delay the next post) until
 * `recordUntil`; records the latency of the posts sent from `recordFrom` on.
 */
async function postOnSchedule(ingest: string, requests: Request[], everyMs: number, offsetMs: number, started: number, recordFrom: number, recordUntil: number) {
  const times: number[] = []
  let errors = 0
  const pending: Promise<void>[] = []
  for (let index = 0; index < requests.length; index++) {
    const due = started + offsetMs + index * everyMs
    if (due >= recordUntil) break
    const wait = due - performance.now()
    if (wait > 0) await Bun.sleep(wait)
    const request = requests[index]!
    const sent = performance.now()
    const record = sent >= recordFrom
    pending.push(
      post(ingest, request)
        .then(async (response) => {
          await response.arrayBuffer()
          if (response.status !== 200) throw new Error(`answered ${response.status}`)
          if (record) times.push(performance.now() - sent)
        })
        .catch(() => {
          if (record) errors++
        }),
    )
  }
  await Promise.all(pending)
  return { times, errors }
}

async function phase(
  master: MasterProcess, small: Workload, big: Workload, readerUrl: string | undefined, revalidate: boolean, seconds: number,
  clock: { next: () => number; bigIndex: number },
): Promise<AckPhase> {
  const totalMs = WARM_MS + seconds * 1000
  // Every body of the phase is made before it starts: the benchmark does little while it measures.
  const intervals = small.clusters.map((_, index) => 100 + Math.round((index * 100) / Math.max(1, small.clusters.length - 1)))
  const agentPosts = small.clusters.map((cluster, index) => {
    const count = Math.ceil(totalMs / intervals[index]!) + 1
    return Array.from({ length: count }, () => round({ clusters: [cluster], nodeCount: cluster.nodes.length }, clock.next())[0]!)
  })
  const bigCount = Math.ceil(totalMs / BIG_EVERY_MS) + 1
  const bigPosts = bigClusterPosts(big, bigCount, clock.bigIndex, clock.next)
  clock.bigIndex += bigCount

  // The readers are a process of their own, as dashboards are: in this process their megabytes of
  // bodies (and their collection) would delay the agents' own timers and be counted as the master's.
  const readers = readerUrl
    ? Bun.spawn(['bun', join(import.meta.dir, 'dashboard-readers.ts'), readerUrl, String(READERS), revalidate ? '1' : '0', String(totalMs)], {
        stdout: 'pipe',
        stderr: 'inherit',
      })
    : undefined

  const started = performance.now()
  const recordFrom = started + WARM_MS
  const recordUntil = started + totalMs
  let cpuBefore = threadCpu(master.proc.pid)
  let benchBefore = process.cpuUsage()
  let machineBefore = machineCpu()
  const markCpu = Bun.sleep(WARM_MS).then(() => {
    cpuBefore = threadCpu(master.proc.pid)
    benchBefore = process.cpuUsage()
    machineBefore = machineCpu()
  })
  const [agents, bigCluster] = await Promise.all([
    Promise.all(agentPosts.map((requests, index) => postOnSchedule(master.ingest, requests, intervals[index]!, (index * 37) % intervals[index]!, started, recordFrom, recordUntil))),
    postOnSchedule(master.ingest, bigPosts, BIG_EVERY_MS, 500, started, recordFrom, recordUntil),
    markCpu,
  ])
  const masterCpuMs = cpuBetween(cpuBefore, threadCpu(master.proc.pid), master.proc.pid)
  const bench = process.cpuUsage(benchBefore)
  const machine = machineCpu()
  let readerResult: ReaderFigures | undefined
  if (readers) {
    const [output, code] = await Promise.all([new Response(readers.stdout).text(), readers.exited])
    if (code !== 0) throw new Error(`the readers' process exited with ${code}`)
    readerResult = JSON.parse(output) as ReaderFigures
  }
  return {
    readers: readerUrl ? READERS : 0,
    seconds,
    ack: figures(agents.flatMap((agent) => agent.times), agents.reduce((sum, agent) => sum + agent.errors, 0)),
    bigClusterAck: figures(bigCluster.times, bigCluster.errors),
    ...(readerResult ? { readerFigures: readerResult } : {}),
    masterCpuMs,
    benchCpuMs: Math.round((bench.user + bench.system) / 1000),
    machineBusyPercent: Math.round((100 * (machine.busy - machineBefore.busy)) / Math.max(1, machine.total - machineBefore.total)),
  }
}

/** The whole scenario on a fresh master: no readers, then 20 readers, `seconds` each. */
export async function ackUnderReaders(seconds: number, log: (line: string) => void = () => {}): Promise<AckUnderReaders> {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-bench-readers-'))
  const master = await spawnMaster({ DB_PATH: join(dir, 'master.db') })
  try {
    const small = workload(AGENT_CLUSTERS * AGENT_NODES, AGENT_NODES, 'ack-')
    const big = workload(BIG_NODES, BIG_NODES, 'big-')
    let last = Date.now() - 60_000
    const clock = { next: () => (last = Math.max(last + 1, Date.now() - 60_000)), bigIndex: 0 }
    // The big cluster stored whole, and every agent once, before anything is measured.
    for (const request of [...round(big, clock.next()), ...round(small, clock.next())]) {
      const response = await post(master.ingest, request)
      if (response.status !== 200) throw new Error(`a first post answered ${response.status}: ${await response.text()}`)
    }
    const list = `${master.api}/api/v2/clusters/${big.clusters[0]!.clusterId}/node-metrics`
    const first = await fetch(list)
    const bytes = (await first.arrayBuffer()).byteLength
    log(`ack under readers: ${BIG_NODES}-node cluster stored (node list ${(bytes / 2 ** 20).toFixed(1)} MiB); ${seconds} s per phase`)

    const none = await phase(master, small, big, undefined, false, seconds, clock)
    log(`  no readers: ack p50 ${none.ack.p50} / p99 ${none.ack.p99} / max ${none.ack.max} ms (${none.ack.count} posts, ${none.ack.errors} errors)`)
    const withReaders = await phase(master, small, big, list, true, seconds, clock)
    const withNaiveReaders = await phase(master, small, big, list, false, seconds, clock)
    for (const [label, measured] of [['revalidating', withReaders], ['naive', withNaiveReaders]] as const) {
      const r = measured.readerFigures!
      log(`  ${READERS} ${label} readers: ack p50 ${measured.ack.p50} / p99 ${measured.ack.p99} / max ${measured.ack.max} ms (${measured.ack.count} posts, ${measured.ack.errors} errors); ` +
        `readers ${r.requestsPerSecond} answers/s (${r.notModified} of ${r.count} 304), ${r.mibPerSecond} MiB/s, p50 ${r.p50} / p99 ${r.p99} ms`)
    }
    return {
      bigClusterNodes: BIG_NODES,
      bigClusterChange: `${BIG_SUBSET} of its nodes posted every ${BIG_EVERY_MS} ms (each node every ${(BIG_NODES / BIG_SUBSET) * BIG_EVERY_MS / 1000} s): the list changes every second`,
      agents: `${AGENT_CLUSTERS} clusters × ${AGENT_NODES} nodes, one post each every 100–200 ms (open loop)`,
      none,
      withReaders,
      withNaiveReaders,
      ratio: round2(withReaders.ack.p99 / none.ack.p99),
      naiveRatio: round2(withNaiveReaders.ack.p99 / none.ack.p99),
      bound: 1.5,
    }
  } finally {
    master.proc.kill('SIGTERM')
    await master.proc.exited
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The section's lines of the benchmark's report. */
export function ackReport(result: AckUnderReaders): string {
  const line = (label: string, phase: AckPhase) =>
    `  ${label.padEnd(44)} ${`${phase.ack.p50} / ${phase.ack.p99} / ${phase.ack.max}`.padStart(24)} ${String(phase.ack.count).padStart(7)} ${String(phase.ack.errors).padStart(6)}` +
    `   master CPU ${Object.entries(phase.masterCpuMs).map(([thread, ms]) => `${thread} ${ms}`).join(', ')} ms; machine ${phase.machineBusyPercent} % busy`
  const readerLine = (label: string, r: ReaderFigures) =>
    `  ${label}: ${r.requestsPerSecond} answers/s, ${r.notModified} of ${r.count} 304 (lists ${(r.bodyBytes / 2 ** 20).toFixed(1)} MiB each, ` +
    `${r.mibPerSecond} MiB/s), p50 ${r.p50} / p99 ${r.p99} / max ${r.max} ms, ${r.errors} errors`
  return [
    `agents' ack latency, ${result.agents};`,
    `  ${result.bigClusterNodes}-node cluster: ${result.bigClusterChange}`,
    `  ${'readers of its node list (closed loop)'.padEnd(44)} ${'ack p50 / p99 / max ms'.padStart(24)} ${'posts'.padStart(7)} ${'errors'.padStart(6)}`,
    line('none', result.none),
    line(`${result.withReaders.readers}, revalidating (as browsers do)`, result.withReaders),
    line(`${result.withNaiveReaders.readers}, naive (never revalidate)`, result.withNaiveReaders),
    `  ratio p99 ${result.ratio} with revalidating readers (bound ≤ ${result.bound}) ${result.ratio <= result.bound ? '✓' : '✗'}; ` +
      `${result.naiveRatio} with naive ones`,
    readerLine('revalidating readers', result.withReaders.readerFigures!),
    readerLine('naive readers', result.withNaiveReaders.readerFigures!),
  ].join('\n')
}

// Alone: `bun bench/readers.ts [--seconds 20] [--out FILE]`.
if (Bun.isMainThread && import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, out: { type: 'string' } } })
  const commit = Bun.spawnSync(['git', 'rev-parse', 'HEAD'], { cwd: join(import.meta.dir, '..') }).stdout.toString().trim()
  const result = await ackUnderReaders(Number(values.seconds), (line) => console.log(`[bench] ${line}`))
  console.log(ackReport(result))
  if (values.out) {
    mkdirSync(dirname(values.out), { recursive: true })
    const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, bun: Bun.version }
    writeFileSync(values.out, `${JSON.stringify({ date: new Date().toISOString(), commit, machine, ackUnderReaders: result }, null, 2)}\n`)
    console.log(`written to ${values.out}`)
  }
}
