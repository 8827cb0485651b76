/**
 * `bun run simulate`: a fleet of simulated clusters posting to a master, one agent per
 * cluster, with a progress line (sent, acknowledged, errors, latency percentiles).
 */
import { parseArgs } from 'node:util'
import { sendSnapshot } from '../agent/send'
import { parseDuration } from '../config/parse'
import { clusterBody, fleet } from './fleet'
import { percentile } from './stats'

const { values: args } = parseArgs({
  options: {
    clusters: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '5s' },
    duration: { type: 'string', default: '60s' },
    master: { type: 'string', default: 'http://127.0.0.1:8081' },
    token: { type: 'string', default: process.env.AGENT_TOKEN ?? '' },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log('usage: bun run simulate [--clusters 3] [--nodes 10] [--interval 5s] [--duration 60s] [--master URL] [--token T]')
  process.exit(0)
}

const intervalMs = parseDuration(args.interval)
const durationMs = parseDuration(args.duration)
const clusters = fleet(Number(args.clusters), Number(args.nodes))
const url = `${args.master.replace(/\/$/, '')}/agent/snapshot`
const stats = { sent: 0, acknowledged: 0, errors: 0, latencies: [] as number[], lastError: '' }
const endAt = Date.now() + durationMs

async function agent(cluster: (typeof clusters)[number], offsetMs: number): Promise<void> {
  await Bun.sleep(offsetMs)
  while (Date.now() < endAt) {
    const loopStarted = performance.now()
    const body = Bun.gzipSync(Buffer.from(clusterBody(cluster.clusterId, cluster.nodes.map((node) => node.snapshot(Date.now())))))
    const started = performance.now()
    stats.sent++
    try {
      const response = await sendSnapshot(args.master, cluster.clusterId, body, { token: args.token })
      const text = await response.text()
      if (response.status === 200) stats.acknowledged++
      else {
        stats.errors++
        stats.lastError = `${response.status} ${text.slice(0, 120)}`
      }
    } catch (error) {
      stats.errors++
      stats.lastError = (error as Error).message
    }
    stats.latencies.push(performance.now() - started)
    await Bun.sleep(Math.max(0, intervalMs - (performance.now() - loopStarted)))
  }
}

function progress(): string {
  const sorted = [...stats.latencies].sort((a, b) => a - b)
  const ms = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(1)} ms`)
  return `sent ${stats.sent}  acknowledged ${stats.acknowledged}  errors ${stats.errors}  ` +
    `p50 ${ms(percentile(sorted, 50))}  p99 ${ms(percentile(sorted, 99))}` + (stats.lastError ? `  last error: ${stats.lastError}` : '')
}

console.log(`simulating ${clusters.length} cluster(s) × ${args.nodes} node(s) → ${url} every ${args.interval} for ${args.duration}`)
const ticker = setInterval(() => console.log(progress()), 1_000)
// Agents start spread over one interval, as real ones would.
await Promise.all(clusters.map((cluster, index) => agent(cluster, (index * intervalMs) / clusters.length)))
clearInterval(ticker)
console.log(`done: ${progress()}`)
process.exit(stats.errors > 0 && stats.acknowledged === 0 ? 1 : 0)
