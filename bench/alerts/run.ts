/**
 * `bun run bench --alerts [--quick] [--out FILE]`: agents' ingest with 1,000 alert rules against
 * the same master with none (ALERT_RULES=none), in one run on this machine. The two alternate
 * (none, rules, none, rules …) so drift of the machine falls on both; the ratio is of the medians.
 * Notifications go to a receiver in this process. Results: bench/results/alerts.json unless --out.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { AlertRulesDocument } from '../../src/model/alerts'
import { FIGURES } from '../../src/model/figures'
import { spawnMaster, type MasterProcess } from '../../test/support/master-process'
import { closedLoop } from '../http-load'
import { round, workload, type Workload } from '../workload'

const TARGET_RATIO = 0.9

/**
 * A thousand rules of the kinds operators write: most apply everywhere, on every figure, with
 * thresholds a few nodes cross; some are scoped to a cluster or to a node-name pattern; a few
 * judge silence. Each sample is judged against every rule that applies to its node.
 */
export function thousandRules(load: Workload, receiverUrl: string): AlertRulesDocument {
  const clusters = load.clusters.map((cluster) => cluster.clusterId)
  const rules: AlertRulesDocument['rules'] = Array.from({ length: 1_000 }, (_, i) => {
    const name = `rule-${i}`
    const forDuration = (['1m', '5m', 0] as const)[i % 3]!
    if (i % 100 === 99) return { name, figure: 'agent_offline', severity: 'critical' }
    if (i % 50 === 49) return { name, figure: 'stale', for: '1m', severity: 'warning' }
    const figure = FIGURES[i % FIGURES.length]!
    const percent = figure.unit === '%' || figure.unit === '°C'
    const threshold = percent ? 85 + (i % 15) : figure.unit === 'B/s' ? 5e7 * (1 + (i % 8)) : 20 + (i % 20)
    const base = { name, figure: figure.field, op: '>=' as const, threshold, for: forDuration, ...(percent ? { resolve: threshold - 5 } : {}) }
    switch (i % 10) {
      case 6:
      case 7:
        return { ...base, clusters: [clusters[i % clusters.length]!], severity: 'critical' }
      case 8:
        return { ...base, nodes: `*-node-000${i % 10}`, severity: 'info' }
      default:
        return { ...base, severity: 'warning' }
    }
  })
  return { rules, notify: [{ type: 'webhook', url: `${receiverUrl}/hook` }] }
}

interface Run {
  rules: 'none' | '1000'
  ackPerSecond: number
  errors: number
}

export async function runAlertsBench(options: { quick: boolean; out?: string }): Promise<void> {
  const { quick } = options
  const out = options.out ?? 'bench/results/alerts.json'
  const plan = quick ? { nodes: 1_000, perSnapshot: [100], timedNodes: 5_000, pairs: 1 } : { nodes: 10_000, perSnapshot: [10, 100], timedNodes: 60_000, pairs: 3 }
  const log = (line: string) => console.log(`[bench] ${line}`)
  const work = mkdtempSync(join(tmpdir(), 'nmm-bench-alerts-'))
  let notified = 0
  const receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      await request.arrayBuffer()
      notified++
      return new Response('ok')
    },
  })

  const rows: Record<string, unknown>[] = []
  try {
    for (const perSnapshot of plan.perSnapshot) {
      const load = workload(plan.nodes, perSnapshot)
      const rulesPath = join(work, `rules-${perSnapshot}.json`)
      writeFileSync(rulesPath, JSON.stringify(thousandRules(load, `http://127.0.0.1:${receiver.port}`)))
      const rounds = Math.max(1, Math.ceil(plan.timedNodes / load.nodeCount))
      const concurrency = Math.min(load.clusters.length, 32)
      const runs: Run[] = []
      let alertFigures = { firing: 0, notifications: 0, transitions: 0 }
      for (let pair = 0; pair < plan.pairs; pair++) {
        for (const rules of ['none', '1000'] as const) {
          const dir = join(work, `${perSnapshot}-${pair}-${rules}`)
          mkdirSync(dir)
          const base = Date.now() - 30 * 60_000
          const warm = round(load, base)
          const timed = Array.from({ length: rounds }, (_, r) => round(load, base + (r + 1) * 1_000)).flat()
          const master = await spawnMaster({ DB_PATH: join(dir, 'master.db'), ALERT_RULES: rules === 'none' ? 'none' : rulesPath })
          await closedLoop(master.ingest, warm, concurrency)
          const result = await closedLoop(master.ingest, timed, concurrency)
          if (rules === '1000') alertFigures = await alertsOf(master)
          master.proc.kill('SIGTERM')
          await master.proc.exited
          rmSync(dir, { recursive: true, force: true })
          const ackPerSecond = Math.round(result.acknowledgedNodes / result.seconds)
          runs.push({ rules, ackPerSecond, errors: result.errors })
          log(`${plan.nodes} nodes, ${perSnapshot} per snapshot, ${rules === 'none' ? 'no rules   ' : '1,000 rules'}: ${ackPerSecond} node-snapshots/s acknowledged${result.errors ? `, ${result.errors} errors` : ''}`)
        }
      }
      const median = (variant: Run['rules']) => medianOf(runs.filter((run) => run.rules === variant).map((run) => run.ackPerSecond))
      const ratio = Number((median('1000') / median('none')).toFixed(2))
      rows.push({
        nodes: plan.nodes, nodesPerSnapshot: perSnapshot, concurrency, runs, noRulesAckPerSecond: median('none'), rulesAckPerSecond: median('1000'),
        ratio, target: TARGET_RATIO, ...alertFigures,
      })
      log(`  ratio (medians) ${ratio} (target ≥ ${TARGET_RATIO}); with the rules: ${alertFigures.firing} alerts firing, ${alertFigures.transitions} state changes, ${alertFigures.notifications} notifications sent`)
    }
  } finally {
    receiver.stop(true)
    rmSync(work, { recursive: true, force: true })
  }

  const results = { date: new Date().toISOString(), mode: quick ? 'quick' : 'full', machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, bun: Bun.version }, ingest: rows, notifiedTotal: notified }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\ningest with 1,000 alert rules against none (same run, medians)${quick ? '  (QUICK: small sizes, not the figures to quote)' : ''}`)
  console.log('                                          none ack/s   1,000 rules ack/s   ratio   target   firing   notifications')
  for (const row of rows) {
    console.log(`  ${String(row.nodes).padStart(6)} nodes, ${String(row.nodesPerSnapshot).padStart(3)} per snapshot            ${String(row.noRulesAckPerSecond).padStart(10)} ` +
      `${String(row.rulesAckPerSecond).padStart(19)} ${String(row.ratio).padStart(7)}   ≥ ${TARGET_RATIO}  ${String(row.firing).padStart(7)} ${String(row.notifications).padStart(15)}`)
  }
  console.log(`\nwritten to ${out}`)
}

/** What the master with the rules made of the run: alerts firing, state changes and notifications sent (its own figures). */
async function alertsOf(master: MasterProcess): Promise<{ firing: number; notifications: number; transitions: number }> {
  await Bun.sleep(1_500) // the alerts actor reports to /metrics once a second
  const metrics = await (await fetch(`${master.api}/metrics`)).text()
  const sum = (pattern: RegExp) => [...metrics.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0)
  const history = (await (await fetch(`${master.api}/api/v2/alerts/history?hours=24`)).json()) as { transitions: unknown[] }
  return {
    firing: sum(/^nmm_alerts_firing\{[^}]*\} (\d+)/gm),
    notifications: sum(/^nmm_alert_notifications_total\{type="webhook",outcome="sent"\} (\d+)/gm),
    transitions: history.transitions.length,
  }
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2)
}
