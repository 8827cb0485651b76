import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { parseDuration } from '../config/parse'
import { ALERT_FIGURES, AlertRulesDocument, MAX_NOTIFY_TARGETS, NotifyTarget, SILENCE_FIGURES, type AlertRule } from '../model/alerts'

/** Where a problem is in the rules document: keys and indexes from its root, e.g. ["rules", 2, "threshold"]. */
export type DocumentPath = (string | number)[]

export interface RuleProblem {
  path: DocumentPath
  message: string
}

export type RulesCheck = { ok: true; document: AlertRulesDocument } | { ok: false; problems: RuleProblem[] }

/** At most this many problems are reported: a file of the wrong shape would otherwise list thousands. */
const MAX_PROBLEMS = 20
const MAX_FOR_MS = 30 * 86_400_000

/** rules[2].threshold */
export function pathText(path: DocumentPath): string {
  return path.map((part, at) => (typeof part === 'number' ? `[${part}]` : at === 0 ? part : `.${part}`)).join('') || '(the document)'
}

/**
 * Checks a rules document (parsed from the file or a PUT body): its shape first, then what the
 * schema cannot say — names unique, op and threshold on figure rules only, a resolve level on the
 * safe side of the threshold, durations and globs that parse.
 */
export function checkRules(value: unknown): RulesCheck {
  const problems = shapeProblems(value)
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) }
  const document = value as AlertRulesDocument
  const seen = new Map<string, number>()
  document.rules.forEach((rule, index) => {
    const at = (field: string): DocumentPath => ['rules', index, field]
    const first = seen.get(rule.name)
    if (first !== undefined) problems.push({ path: at('name'), message: `"${rule.name}" is also the name of rules[${first}]; names must be unique` })
    else seen.set(rule.name, index)
    if (!ALERT_FIGURES.includes(rule.figure)) {
      problems.push({ path: at('figure'), message: `"${rule.figure}": expected a history figure (${ALERT_FIGURES.slice(0, -2).join(', ')}), or stale / agent_offline` })
      return
    }
    const silence = (SILENCE_FIGURES as readonly string[]).includes(rule.figure)
    if (silence) {
      for (const field of ['op', 'threshold', 'resolve'] as const) {
        if (rule[field] !== undefined) problems.push({ path: at(field), message: `not taken by ${rule.figure} (it fires on silence)` })
      }
    } else {
      if (rule.op === undefined) problems.push({ path: at('op'), message: `missing: one of >, >=, <, <=, ==, != is needed for ${rule.figure}` })
      if (rule.threshold === undefined) problems.push({ path: at('threshold'), message: `missing: a number is needed for ${rule.figure}` })
    }
    if (rule.resolve !== undefined && rule.op !== undefined && rule.threshold !== undefined) {
      const problem = resolveProblem(rule.op, rule.threshold, rule.resolve)
      if (problem) problems.push({ path: at('resolve'), message: problem })
    }
    if (typeof rule.for === 'string' && parseDuration(rule.for) > MAX_FOR_MS) problems.push({ path: at('for'), message: 'at most 30d' })
    if (rule.nodes !== undefined && !/^[A-Za-z0-9._:*?-]+$/.test(rule.nodes)) {
      problems.push({ path: at('nodes'), message: `"${rule.nodes}" is not a glob on node names (letters, digits, . _ : - and the wildcards * ?)` })
    }
  })
  ;(document.notify ?? []).forEach((target, index) => {
    // The pattern only says http(s); a URL fetch() cannot even parse would fail every attempt for 24 h.
    if (!URL.canParse(target.url)) problems.push({ path: ['notify', index, 'url'], message: `${shown(target.url)} is not a URL` })
  })
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) }
  return { ok: true, document }
}

/** Firing at ≥ 90 and resolving below 85 is hysteresis; resolving below 95 would resolve what still fires. */
function resolveProblem(op: string, threshold: number, resolve: number): string | undefined {
  if (op === '==' || op === '!=') return `not taken with ${op}`
  if ((op === '>' || op === '>=') && resolve > threshold) return `must not be above the threshold (${threshold}): it is the level the figure must fall below`
  if ((op === '<' || op === '<=') && resolve < threshold) return `must not be below the threshold (${threshold}): it is the level the figure must rise above`
  return undefined
}

/** The schema's complaints, one per place, worded for a person editing the file. */
function shapeProblems(value: unknown): RuleProblem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: [], message: 'expected a mapping with `rules` (a list) and optionally `notify` (a list)' }]
  }
  const problems: RuleProblem[] = []
  const notify = (value as { notify?: unknown }).notify
  // A target's fields depend on its type: checked against its own variant, so the message names the field.
  if (Array.isArray(notify)) {
    if (notify.length > MAX_NOTIFY_TARGETS) problems.push({ path: ['notify'], message: `${notify.length} targets: at most ${MAX_NOTIFY_TARGETS}` })
    notify.slice(0, MAX_NOTIFY_TARGETS).forEach((target, index) => {
      const variant = NotifyTarget.anyOf.find((schema) => schema.properties.type.const === (target as { type?: unknown })?.type)
      if (!variant) problems.push({ path: ['notify', index, 'type'], message: 'expected webhook, slack or alertmanager' })
      else problems.push(...schemaProblems(variant, target, ['notify', index]))
    })
  }
  const { notify: _, ...rest } = value as Record<string, unknown>
  problems.push(...schemaProblems(AlertRulesDocument, Array.isArray(notify) ? rest : value, []))
  return problems
}

function schemaProblems(schema: TSchema, value: unknown, base: DocumentPath): RuleProblem[] {
  try {
    return schemaErrors(schema, value, base)
  } catch (error) {
    // A body of 100,000 nested brackets parses, but no check can walk it.
    if (error instanceof RangeError) return [{ path: base, message: 'nested too deeply to be a rules document' }]
    throw error
  }
}

function schemaErrors(schema: TSchema, value: unknown, base: DocumentPath): RuleProblem[] {
  const byPath = new Map<string, RuleProblem>()
  for (const error of Value.Errors(schema, value)) {
    if (byPath.size >= MAX_PROBLEMS) break
    if (byPath.has(error.path)) continue
    const path = [...base, ...error.path.split('/').slice(1).map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/~1/g, '/').replace(/~0/g, '~')))]
    const description = (error.schema as { description?: string }).description
    let message: string
    if (error.message === 'Unexpected property') message = 'not a field here (a typo?)'
    else if (error.value === undefined) message = `missing${description ? `: ${description}` : ''}`
    else message = `${shown(error.value)}: expected ${description ?? error.message.replace(/^Expected /, '')}`
    byPath.set(error.path, { path, message })
  }
  return [...byPath.values()]
}

/** A value in a message: a whole document that is too long (10,001 rules) is not echoed back. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  if (Array.isArray(value) && text.length > 80) return `a list of ${value.length}`
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** A rule with every default filled in: what is evaluated, and what GET /api/v2/alert-rules shows. */
export function withDefaults(rule: AlertRule): AlertRule {
  return { ...rule, for: rule.for ?? 0, severity: rule.severity ?? 'warning', clusters: rule.clusters ?? ['*'], nodes: rule.nodes ?? '*' }
}

/**
 * The built-in rules, at the dashboard's warning thresholds (CPU or memory ≥ 80 %, CPU ≥ 75 °C)
 * and the node list's status (stale, agent offline). ALERT_RULES=none starts without them.
 */
export const DEFAULT_RULES: AlertRulesDocument = {
  rules: [
    { name: 'cpu-high', figure: 'cpu_usage', op: '>=', threshold: 80, for: '5m', resolve: 75, severity: 'warning' },
    { name: 'memory-high', figure: 'mem_usage', op: '>=', threshold: 80, for: '5m', resolve: 75, severity: 'warning' },
    { name: 'cpu-temperature-high', figure: 'temperature', op: '>=', threshold: 75, for: '2m', resolve: 70, severity: 'warning' },
    { name: 'disk-full', figure: 'disk_usage', op: '>=', threshold: 90, resolve: 85, severity: 'critical' },
    { name: 'node-stale', figure: 'stale', severity: 'warning' },
    { name: 'agent-offline', figure: 'agent_offline', severity: 'critical' },
  ],
  notify: [],
}
