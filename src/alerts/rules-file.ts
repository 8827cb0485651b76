import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument, type Document } from 'yaml'
import type { AlertRulesDocument } from '../model/alerts'
import { checkRules, DEFAULT_RULES, pathText, type DocumentPath, type RuleProblem } from './rules'

/** The rules ALERT_RULES names: the built-in defaults (unset), none, or a YAML / JSON file. */
export interface ConfiguredRules {
  source: 'defaults' | 'none' | 'file'
  /** the file, for source `file` */
  path?: string
  document: AlertRulesDocument
  /**
   * Identifies the setting and the file's content: rules PUT through the API stay in force across
   * restarts while this is unchanged, and give way to the file once an operator edits it.
   */
  fingerprint: string
}

/** Reads ALERT_RULES; a file that does not parse or check throws, naming the line and field of each problem. */
export function configuredRules(setting: string): ConfiguredRules {
  if (setting === '') return { source: 'defaults', document: DEFAULT_RULES, fingerprint: fingerprint('defaults', JSON.stringify(DEFAULT_RULES)) }
  if (setting === 'none') return { source: 'none', document: { rules: [], notify: [] }, fingerprint: fingerprint('none', '') }
  let text: string
  try {
    text = readFileSync(setting, 'utf8')
  } catch (error) {
    throw new Error(`cannot read the rules file ${setting}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  return { source: 'file', path: setting, document: parseRules(text, setting), fingerprint: fingerprint('file', text) }
}

/**
 * A rules file's text (YAML, or JSON, which is YAML too) → the document. Problems are reported
 * all at once, each as `file:line: rules[2].threshold: what is wrong`.
 */
export function parseRules(text: string, name: string): AlertRulesDocument {
  const lines = new LineCounter()
  const parsed = parseDocument(text, { lineCounter: lines, uniqueKeys: true })
  if (parsed.errors.length > 0) {
    const messages = parsed.errors.slice(0, 5).map((error) => {
      const { line, col } = lines.linePos(error.pos[0])
      return `${name}:${line}:${col}: ${error.message.split('\n')[0]}`
    })
    throw new Error(`the rules file does not parse:\n  ${messages.join('\n  ')}`)
  }
  const check = checkRules(parsed.toJS({ maxAliasCount: 100 }))
  if (!check.ok) {
    const messages = check.problems.map((problem) => `${name}:${lineOf(parsed, lines, problem)}: ${pathText(problem.path)}: ${problem.message}`)
    throw new Error(`the rules file has ${check.problems.length === 1 ? 'a problem' : 'problems'}:\n  ${messages.join('\n  ')}`)
  }
  return check.document
}

/** The line of the problem's field, or of the nearest enclosing one that is in the file (a missing field: its rule's line). */
function lineOf(document: Document, lines: LineCounter, problem: RuleProblem): number {
  for (let length = problem.path.length; length >= 0; length--) {
    const path: DocumentPath = problem.path.slice(0, length)
    const node = length === 0 ? document.contents : document.getIn(path, true)
    const range = (node as { range?: [number, number, number] } | undefined)?.range
    if (range) return lines.linePos(range[0]).line
  }
  return 1
}

function fingerprint(kind: string, text: string): string {
  return createHash('sha256').update(kind).update('\0').update(text).digest('hex').slice(0, 32)
}
