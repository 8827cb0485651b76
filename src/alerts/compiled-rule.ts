import { parseDuration } from '../config/parse'
import type { AlertOp, AlertRule } from '../model/alerts'
import { FIGURES } from '../model/figures'
import { withDefaults } from './rules'

/** A checked rule made ready to judge samples without parsing anything again. */
export interface CompiledRule {
  rule: AlertRule
  name: string
  figure: string
  kind: 'figure' | 'stale' | 'agent_offline'
  /** the figure's place in a sample's values (model/figures.ts order); -1 for stale / agent_offline */
  figureIndex: number
  op: AlertOp
  threshold: number
  /** the hysteresis level; undefined: a firing alert resolves as soon as the condition no longer holds */
  resolve: number | undefined
  forMs: number
  severity: string
  unit: string
  /** true when the rule applies to every cluster and every node: such rules are shared by all nodes, not listed per node */
  everywhere: boolean
  appliesToCluster(cluster: string): boolean
  appliesToNode(node: string): boolean
}

export function compileRule(input: AlertRule): CompiledRule {
  const rule = withDefaults(input)
  const figureIndex = FIGURES.findIndex((figure) => figure.field === rule.figure)
  const clusters = new Set(rule.clusters)
  const everyCluster = clusters.has('*')
  const everyNode = rule.nodes === '*'
  const nodePattern = globPattern(rule.nodes!)
  return {
    rule,
    name: rule.name,
    figure: rule.figure,
    kind: figureIndex >= 0 ? 'figure' : (rule.figure as 'stale' | 'agent_offline'),
    figureIndex,
    op: rule.op ?? '>',
    threshold: rule.threshold ?? 0,
    resolve: rule.resolve,
    forMs: typeof rule.for === 'string' ? parseDuration(rule.for) : 0,
    severity: rule.severity!,
    unit: figureIndex >= 0 ? FIGURES[figureIndex]!.unit : '',
    everywhere: everyCluster && everyNode,
    appliesToCluster: (cluster) => everyCluster || clusters.has(cluster),
    appliesToNode: (node) => everyNode || nodePattern.test(node),
  }
}

/** Whether `value` meets the rule's condition. */
export function breaches(rule: CompiledRule, value: number): boolean {
  return compare(rule.op, value, rule.threshold)
}

/**
 * Whether a firing alert may resolve at `value`: past the resolve level when one is set (fire at
 * ≥ 90, resolve below 85), else as soon as the condition no longer holds.
 */
export function clears(rule: CompiledRule, value: number): boolean {
  if (rule.resolve === undefined) return !breaches(rule, value)
  return rule.op === '>' || rule.op === '>=' ? value < rule.resolve : value > rule.resolve
}

function compare(op: AlertOp, value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold
    case '>=':
      return value >= threshold
    case '<':
      return value < threshold
    case '<=':
      return value <= threshold
    case '==':
      return value === threshold
    case '!=':
      return value !== threshold
  }
}

/** node-* → ^node-.*$; the glob's only wildcards are * and ?, everything else is literal. */
function globPattern(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${source}$`)
}
