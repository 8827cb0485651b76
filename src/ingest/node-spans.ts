/**
 * Where each node's JSON is in an agent's body: the byte range of every member value of the
 * top-level `node_metrics` object. The master stores and serves a node's snapshot as those
 * bytes — the agent's own, so an int64 counter above 2^53 comes back exactly as it was sent, and
 * no node is serialised again on the hot path.
 *
 * The body has already been through JSON.parse, so it is valid JSON and this scanner only has
 * to track strings and nesting. JSON's structural characters are ASCII and never occur inside a
 * multi-byte UTF-8 sequence, so scanning bytes is safe. Keys are compared decoded.
 *
 * The top level is walked backwards, from its end: Go marshals `node_metrics` after the
 * cluster's pods, deployments and events (only the small `summary` follows), so the megabytes
 * before it are never read, and each node is read once. Walking backwards, the first `node_metrics`
 * met and the first of a node name met are the last in the text: the ones JSON.parse keeps.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COLON = 0x3a
const COMMA = 0x2c

const utf8 = new TextDecoder()
const NODE_METRICS = 'node_metrics'

export interface Span {
  start: number
  end: number
}

/** Deeper than any agent's node (a sensor in a list in a group is 3 levels): past it, a client parsing the node list could fail. */
export const MAX_NODE_DEPTH = 32

/** A node's JSON nests deeper than MAX_NODE_DEPTH. */
export class TooDeep extends Error {
  constructor(readonly node: string) {
    super(`node ${node} nests deeper than ${MAX_NODE_DEPTH} levels`)
  }
}

/** One member of an object, read backwards: its key, its value's bytes, and how deep the value nests. */
interface Member extends Span {
  key: string
  depth: number
}

/** node name → byte range of its value; undefined when there is no (object) `node_metrics` member. */
export function nodeSpans(bytes: Uint8Array): Map<string, Span> | undefined {
  let i = skipSpaceBack(bytes, bytes.length - 1)
  if (bytes[i] !== CLOSE_OBJECT) return undefined
  for (;;) {
    i = skipSpaceBack(bytes, i - 1)
    if (bytes[i] === OPEN_OBJECT) return undefined // no (more) top-level members
    // An object's members are read as it is stepped over: if its key turns out to be node_metrics,
    // they are the nodes, and nothing is read twice.
    const members: Member[] | undefined = bytes[i] === CLOSE_OBJECT ? [] : undefined
    const value = valueBack(bytes, i, members)
    const key = keyBefore(bytes, value.start)
    if (key.name === NODE_METRICS) return members && nodesOf(members)
    i = skipSpaceBack(bytes, key.start - 1)
    if (bytes[i] === OPEN_OBJECT) return undefined
    if (bytes[i] !== COMMA) throw new Error(`expected "," at byte ${i}`)
  }
}

function nodesOf(members: readonly Member[]): Map<string, Span> {
  const nodes = new Map<string, Span>()
  for (const { key, start, end, depth } of members) {
    if (nodes.has(key)) continue // read backwards: the one kept is the last in the text
    if (depth > MAX_NODE_DEPTH) throw new TooDeep(key)
    nodes.set(key, { start, end })
  }
  return nodes
}

/** The key before a value that starts at `valueStart` (`"key" :` ), and where the key starts. */
function keyBefore(bytes: Uint8Array, valueStart: number): { name: string; start: number } {
  const colon = skipSpaceBack(bytes, valueStart - 1)
  if (bytes[colon] !== COLON) throw new Error(`expected ":" at byte ${colon}`)
  const end = skipSpaceBack(bytes, colon - 1) + 1
  const start = stringStartBack(bytes, end - 1)
  return { name: decodeKey(bytes, start, end), start }
}

function decodeKey(bytes: Uint8Array, start: number, end: number): string {
  // Most keys are short ASCII without escapes: built directly, as a decoder call costs more than the key.
  let key = ''
  for (let i = start + 1; i < end - 1; i++) {
    const c = bytes[i]!
    if (c >= 0x80 || c === BACKSLASH) return JSON.parse(utf8.decode(bytes.subarray(start, end))) as string
    key += String.fromCharCode(c)
  }
  return key
}

/** What a byte means to the scanner: most bytes mean nothing, and are stepped over one table lookup each. */
const PLAIN = 0
const STRING = 1
const OPEN = 2
const CLOSE = 3
const END = 4
const CLASS = new Uint8Array(256)
CLASS[QUOTE] = STRING
CLASS[OPEN_OBJECT] = OPEN
CLASS[OPEN_ARRAY] = OPEN
CLASS[CLOSE_OBJECT] = CLOSE
CLASS[CLOSE_ARRAY] = CLOSE
/** Where a scalar (number, true, false, null) starts, read backwards. */
const SCALAR_START = new Uint8Array(256)
for (const byte of [COMMA, COLON, OPEN_OBJECT, OPEN_ARRAY, 0x20, 0x0a, 0x0d, 0x09]) SCALAR_START[byte] = END

function skipSpaceBack(bytes: Uint8Array, i: number): number {
  for (;;) {
    const c = bytes[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i--
  }
}

/** `i` is at a closing quote; returns the index of the opening one (a quote inside a string is escaped: after an odd run of backslashes). */
function stringStartBack(bytes: Uint8Array, i: number): number {
  let j = i - 1
  for (;;) {
    if (bytes[j] === QUOTE) {
      let backslashes = 0
      while (bytes[j - 1 - backslashes] === BACKSLASH) backslashes++
      if (backslashes % 2 === 0) return j
    } else if (j < 0) throw new Error('unterminated string')
    j--
  }
}

/**
 * `i` is at the last byte of a value; returns where the value starts and how deep it nests. With
 * `members`, the value is an object and its members are collected, last first.
 */
function valueBack(bytes: Uint8Array, i: number, members?: Member[]): { start: number; depth: number } {
  const last = bytes[i]
  if (last === QUOTE) return { start: stringStartBack(bytes, i), depth: 0 }
  if (last !== CLOSE_OBJECT && last !== CLOSE_ARRAY) {
    let j = i - 1
    while (j >= 0 && SCALAR_START[bytes[j]!] !== END) j--
    return { start: j + 1, depth: 0 }
  }
  if (members) return objectBack(bytes, i, members)
  let depth = 0
  let deepest = 0
  let j = i
  for (;;) {
    // Before the start, bytes[j] is undefined and so is its class: caught below, off the hot path.
    const c = CLASS[bytes[j]!]
    if (c === PLAIN) j--
    else if (c === STRING) j = stringStartBack(bytes, j) - 1
    else if (c === CLOSE) {
      if (++depth > deepest) deepest = depth
      j--
    } else if (c === OPEN) {
      if (--depth === 0) return { start: j, depth: deepest }
      j--
    } else throw new Error('unterminated value')
  }
}

/** `i` is at an object's closing brace: collects its members, last first, and returns where it starts. */
function objectBack(bytes: Uint8Array, i: number, members: Member[]): { start: number; depth: number } {
  let j = skipSpaceBack(bytes, i - 1)
  let deepest = 0
  while (bytes[j] !== OPEN_OBJECT) {
    const value = valueBack(bytes, j)
    const key = keyBefore(bytes, value.start)
    members.push({ key: key.name, start: value.start, end: j + 1, depth: value.depth })
    if (value.depth > deepest) deepest = value.depth
    j = skipSpaceBack(bytes, key.start - 1)
    if (bytes[j] === COMMA) j = skipSpaceBack(bytes, j - 1)
    else if (bytes[j] !== OPEN_OBJECT) throw new Error(`expected "," or "{" at byte ${j}`)
  }
  return { start: j, depth: deepest + 1 }
}
