import { Name } from '../model/node-metrics'

/** The schema's rule (model/node-metrics.ts Name), for the common case of a good name; the rest says why not. */
const GOOD = new RegExp(Name.pattern!)
const MAX_LENGTH = Name.maxLength!
const ALLOWED = /^[A-Za-z0-9._:-]$/
const RESERVED = new Set(['.', '__proto__', 'constructor', 'prototype'])

/**
 * What is wrong with a cluster id or node name (model/node-metrics.ts, Name), said so that the
 * operator can fix it: which character, where. undefined: the name is fine.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && name.length <= MAX_LENGTH && GOOD.test(name)) return undefined
  if (typeof name !== 'string') return `must be a string, not ${name === null ? 'null' : typeof name}`
  if (name.length === 0) return 'must not be empty'
  if (name.length > MAX_LENGTH) return `is ${name.length} characters long; at most ${MAX_LENGTH} are allowed`
  let position = 0
  for (const character of name) {
    position++
    if (!ALLOWED.test(character)) {
      const code = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
      const shown = /^[\x21-\x7e]$/.test(character) ? `"${character}" (${code})` : code
      return `character ${shown} at position ${position} is not allowed; use A-Z a-z 0-9 . _ : - (a Helm release name like my-cluster or a kube-system UID is fine)`
    }
  }
  if (RESERVED.has(name)) return `"${name}" is reserved`
  if (name.includes('..')) return 'must not contain ".."'
  return undefined
}

/** The name, quoted and cut short for a message. */
export const shownName = (name: unknown) => JSON.stringify(String(name).slice(0, 80))
