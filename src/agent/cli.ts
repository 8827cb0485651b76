/**
 * `bun run agent`: reads this Linux host and posts its metrics to a master, like a cluster
 * agent would, every --interval.
 */
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { parseDuration } from '../config/parse'
import { NodeCollector } from './collector'
import { hostAt } from './host'
import { sendSnapshot } from './send'

const { values: args } = parseArgs({
  options: {
    master: { type: 'string', default: 'http://127.0.0.1:8081' },
    interval: { type: 'string', default: '5s' },
    cluster: { type: 'string', default: 'local' },
    node: { type: 'string', default: hostname() },
    token: { type: 'string', default: process.env.AGENT_TOKEN ?? '' },
    root: { type: 'string', default: '/' },
    help: { type: 'boolean', default: false },
  },
})

if (args.help) {
  console.log(`usage: bun run agent [--master URL] [--interval 5s] [--cluster ID] [--node NAME] [--token TOKEN]
  Reads /proc and /sys of this host and posts a gzipped ClusterSnapshot to MASTER/agent/snapshot.`)
  process.exit(0)
}

const intervalMs = parseDuration(args.interval)
const MAX_BACKOFF_MS = 60_000
const collector = new NodeCollector(hostAt(args.root), args.node)
const url = `${args.master.replace(/\/$/, '')}/agent/snapshot`

async function post(): Promise<void> {
  const snapshot = collector.collect()
  const body = JSON.stringify({ cluster_id: args.cluster, fetched_at: new Date().toISOString(), node_metrics: { [args.node]: snapshot } })
  const response = await sendSnapshot(args.master, args.cluster, Bun.gzipSync(Buffer.from(body)), {
    token: args.token,
    signal: AbortSignal.timeout(Math.max(10_000, intervalMs)),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${response.status} ${text.slice(0, 300)}`)
}

let failures = 0
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (stopping = true) && process.exit(0))
console.log(`agent: node ${args.node} of cluster ${args.cluster} → ${url} every ${args.interval}`)

while (!stopping) {
  const started = Date.now()
  try {
    await post()
    if (failures > 0) console.log(`agent: delivered again after ${failures} failed attempt(s)`)
    failures = 0
  } catch (error) {
    if (failures === 0) console.error(`agent: post failed, retrying with back-off: ${(error as Error).message}`)
    failures++
  }
  const wait = failures === 0 ? intervalMs : Math.min(intervalMs * 2 ** (failures - 1), MAX_BACKOFF_MS)
  await Bun.sleep(Math.max(0, wait - (Date.now() - started)))
}
