import { describe, expect, test } from 'bun:test'
import { compileRule } from '../src/alerts/compiled-rule'
import { AlertEvaluator, type Transition } from '../src/alerts/evaluator'
import type { AlertRule } from '../src/model/alerts'
import { FIGURES } from '../src/model/figures'

// The evaluator alone, fed samples directly: the edges of each comparison, scope and rule change.
// The pipeline test (alerts.test.ts) drives the same code through real snapshots and receivers.

const CPU = FIGURES.findIndex((figure) => figure.field === 'cpu_usage')
const TEMP = FIGURES.findIndex((figure) => figure.field === 'temperature')
const values = (cpu: number | null, temp: number | null = 50) => FIGURES.map((_, index) => (index === CPU ? cpu : index === TEMP ? temp : null))

function evaluator(rules: AlertRule[]) {
  const judge = new AlertEvaluator(45_000)
  judge.setRules(rules.map(compileRule), 0)
  let t = 0
  const feed = (node: string, cpu: number | null, options: { cluster?: string; temp?: number | null; at?: number } = {}) => {
    const out: Transition[] = []
    t = options.at ?? t + 1_000
    judge.sample(options.cluster ?? 'c', node, t, t, values(cpu, options.temp), out)
    return out.map((change) => `${change.alert.rule}/${change.alert.node}:${change.from}>${change.to}`)
  }
  return { judge, feed }
}

describe('the alert evaluator', () => {
  test('> and >= differ at the threshold itself; the index visits exactly the rules breached', () => {
    const { feed } = evaluator([
      { name: 'gt', figure: 'cpu_usage', op: '>', threshold: 90 },
      { name: 'ge', figure: 'cpu_usage', op: '>=', threshold: 90 },
      { name: 'lt', figure: 'cpu_usage', op: '<', threshold: 10 },
      { name: 'le', figure: 'cpu_usage', op: '<=', threshold: 10 },
      { name: 'eq', figure: 'cpu_usage', op: '==', threshold: 50 },
      { name: 'ne', figure: 'cpu_usage', op: '!=', threshold: 50 },
    ])
    expect(feed('a', 90)).toEqual(['ge/a:inactive>pending', 'ge/a:pending>firing', 'ne/a:inactive>pending', 'ne/a:pending>firing'])
    expect(feed('b', 10)).toEqual(['le/b:inactive>pending', 'le/b:pending>firing', 'ne/b:inactive>pending', 'ne/b:pending>firing'])
    expect(feed('c', 50)).toEqual(['eq/c:inactive>pending', 'eq/c:pending>firing'])
    expect(feed('d', 9.99).sort()).toEqual(['le/d:inactive>pending', 'le/d:pending>firing', 'lt/d:inactive>pending', 'lt/d:pending>firing', 'ne/d:inactive>pending', 'ne/d:pending>firing'])
  })

  test('hysteresis for < rules resolves only above `resolve`; a missing figure changes nothing', () => {
    const { feed } = evaluator([{ name: 'cold', figure: 'temperature', op: '<', threshold: 10, resolve: 15 }])
    expect(feed('a', 1, { temp: 5 })).toEqual(['cold/a:inactive>pending', 'cold/a:pending>firing'])
    expect(feed('a', 1, { temp: 12 })).toEqual([]) // no longer < 10, but not above 15
    expect(feed('a', 1, { temp: null })).toEqual([]) // no sensor in this sample: no evidence either way
    expect(feed('a', 1, { temp: 15 })).toEqual([]) // at the level: not above it
    expect(feed('a', 1, { temp: 15.5 })).toEqual(['cold/a:firing>resolved'])
  })

  test('`for` counts from the first breaching sample by sample time; a non-breaching sample ends the pending alert; an older sample is ignored', () => {
    const { feed } = evaluator([{ name: 'hot', figure: 'cpu_usage', op: '>=', threshold: 80, for: '1m' }])
    expect(feed('a', 90, { at: 0 })).toEqual(['hot/a:inactive>pending'])
    expect(feed('a', 95, { at: 59_999 })).toEqual([])
    expect(feed('a', 10, { at: 30_000 })).toEqual([]) // older than the newest sample: a retry, not judged
    expect(feed('a', 10, { at: 60_500 })).toEqual(['hot/a:pending>inactive'])
    expect(feed('a', 90, { at: 70_000 })).toEqual(['hot/a:inactive>pending'])
    expect(feed('a', 90, { at: 130_000 })).toEqual(['hot/a:pending>firing'])
  })

  test('scope: a cluster list and a node glob pick their nodes, and nothing else', () => {
    const { feed } = evaluator([
      { name: 'prod-gpu', figure: 'cpu_usage', op: '>', threshold: 50, clusters: ['prod'], nodes: 'gpu-?' },
    ])
    expect(feed('gpu-1', 99, { cluster: 'prod' })).toEqual(['prod-gpu/gpu-1:inactive>pending', 'prod-gpu/gpu-1:pending>firing'])
    expect(feed('gpu-10', 99, { cluster: 'prod' })).toEqual([])
    expect(feed('gpu-2', 99, { cluster: 'staging' })).toEqual([])
    expect(feed('cpu-1', 99, { cluster: 'prod' })).toEqual([])
  })

  test('new rules: alerts of a removed rule, of one no longer covering their node, or of a new severity resolve; the others carry on without a new message', () => {
    const { judge, feed } = evaluator([
      { name: 'keep', figure: 'cpu_usage', op: '>', threshold: 50 },
      { name: 'drop', figure: 'cpu_usage', op: '>', threshold: 50 },
      { name: 'narrow', figure: 'cpu_usage', op: '>', threshold: 50 },
      { name: 'sev', figure: 'cpu_usage', op: '>', threshold: 50 },
    ])
    feed('a', 99)
    const changes = judge.setRules([
      compileRule({ name: 'keep', figure: 'cpu_usage', op: '>', threshold: 60 }),
      compileRule({ name: 'narrow', figure: 'cpu_usage', op: '>', threshold: 50, nodes: 'b*' }),
      // Receivers tell alerts apart by their labels: a warning that became critical is another alert.
      compileRule({ name: 'sev', figure: 'cpu_usage', op: '>', threshold: 50, severity: 'critical' }),
    ], 5_000)
    expect(changes.map((change) => `${change.alert.rule}:${change.from}>${change.to}:${change.alert.severity}`).sort()).toEqual([
      'drop:firing>resolved:warning', 'narrow:firing>resolved:warning', 'sev:firing>resolved:warning',
    ])
    expect([...judge.active()].map((alert) => `${alert.rule}:${alert.state}`)).toEqual(['keep:firing'])
    expect(feed('a', 99)).toEqual(['sev/a:inactive>pending', 'sev/a:pending>firing'])
  })

  test('stale: fires on silence by the master clock after `for`, resolves on the next sample', () => {
    const judge = new AlertEvaluator(45_000)
    judge.setRules([compileRule({ name: 'stale', figure: 'stale', for: '1m' })], 0)
    const out: Transition[] = []
    judge.sample('c', 'a', 1_000, 1_000, values(10), out)
    const at = (now: number) => {
      const changes: Transition[] = []
      judge.silence({ now, staleAfterMs: () => 15_000 }, changes)
      return changes.map((change) => `${change.from}>${change.to}`)
    }
    expect(at(16_000)).toEqual([])
    expect(at(16_001)).toEqual(['inactive>pending'])
    expect(at(76_000)).toEqual(['pending>firing'])
    expect(at(200_000)).toEqual([])
    const back: Transition[] = []
    judge.sample('c', 'a', 2_000, 201_000, values(10), back)
    expect(back.map((change) => `${change.from}>${change.to}`)).toEqual(['firing>resolved'])
  })
})
