/**
 * Where each node's JSON is in an agent's body: the byte range of every member value of the
 * top-level `node_metrics` object. The master stores and serves a node's snapshot as those
 * bytes — the agent's own, so an int64 counter above 2^53 comes back exactly as it was sent, and
 * no node is serialised again on the hot path.
 *
 * The body has already been through JSON.parse, so it is valid JSON and this scanner only has
 * to track strings and nesting. JSON's structural characters are ASCII and never occur inside a
 * multi-byte UTF-8 sequence, so scanning bytes is safe. Keys are compared decoded, and a key that
 * occurs twice resolves as JSON.parse resolves it: the last one wins.
 *
 * The top level is walked from its end: Go marshals `node_metrics` after the cluster's pods,
 * deployments and events (only the small `summary` follows), so the megabytes before it are
 * never scanned. Walking backwards also finds the last `node_metrics`, the one JSON.parse keeps.
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

/** node name → byte range of its value; undefined when there is no (object) `node_metrics` member. */
export function nodeSpans(bytes: Uint8Array): Map<string, Span> | undefined {
  const found = lastTopLevelMember(bytes, NODE_METRICS)
  if (found === undefined || bytes[found] !== OPEN_OBJECT) return undefined
  const nodes = new Map<string, Span>()
  scanObject(bytes, found, (name, valueStart) => {
    const end = skipValue(bytes, valueStart, MAX_NODE_DEPTH)
    if (end < 0) throw new TooDeep(name)
    nodes.set(name, { start: valueStart, end })
    return end
  })
  return nodes
}

/** Where the value of the last top-level member named `key` starts, walking the top level backwards. */
function lastTopLevelMember(bytes: Uint8Array, key: string): number | undefined {
  let i = skipSpaceBack(bytes, bytes.length - 1)
  if (bytes[i] !== CLOSE_OBJECT) return undefined
  for (;;) {
    i = skipSpaceBack(bytes, i - 1)
    if (bytes[i] === OPEN_OBJECT) return undefined // no (more) members
    const valueStart = valueStartBack(bytes, i)
    const colon = skipSpaceBack(bytes, valueStart - 1)
    if (bytes[colon] !== COLON) throw new Error(`expected ":" at byte ${colon}`)
    const keyEnd = skipSpaceBack(bytes, colon - 1) + 1
    const keyStart = stringStartBack(bytes, keyEnd - 1)
    if (decodeKey(bytes, keyStart, keyEnd) === key) return valueStart
    i = skipSpaceBack(bytes, keyStart - 1)
    if (bytes[i] === OPEN_OBJECT) return undefined
    if (bytes[i] !== COMMA) throw new Error(`expected "," at byte ${i}`)
  }
}

/**
 * Walks the members of the object that opens at `at`: `member` gets each key and where its value
 * starts, and returns where the value ends. Returns the index after the object.
 */
function scanObject(bytes: Uint8Array, at: number, member: (key: string, valueStart: number) => number): number {
  let i = skipSpace(bytes, at + 1)
  if (bytes[i] === CLOSE_OBJECT) return i + 1
  for (;;) {
    const keyEnd = skipString(bytes, i)
    const key = decodeKey(bytes, i, keyEnd)
    i = skipSpace(bytes, keyEnd)
    if (bytes[i] !== COLON) throw new Error(`expected ":" at byte ${i}`)
    i = skipSpace(bytes, member(key, skipSpace(bytes, i + 1)))
    if (bytes[i] === COMMA) {
      i = skipSpace(bytes, i + 1)
      continue
    }
    if (bytes[i] === CLOSE_OBJECT) return i + 1
    throw new Error(`expected "," or "}" at byte ${i}`)
  }
}

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

/** `i` is at the last byte of a value; returns the index of its first byte. */
function valueStartBack(bytes: Uint8Array, i: number): number {
  const last = bytes[i]
  if (last === QUOTE) return stringStartBack(bytes, i)
  if (last !== CLOSE_OBJECT && last !== CLOSE_ARRAY) {
    let j = i - 1
    while (j >= 0 && SCALAR_START[bytes[j]!] !== END) j--
    return j + 1
  }
  let depth = 0
  let j = i
  for (;;) {
    const c = CLASS[bytes[j]!]
    if (c === PLAIN) j--
    else if (c === STRING) j = stringStartBack(bytes, j) - 1
    else if (c === CLOSE) {
      depth++
      j--
    } else if (c === OPEN) {
      if (--depth === 0) return j
      j--
    } else throw new Error('unterminated value')
  }
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

function skipSpace(bytes: Uint8Array, i: number): number {
  for (;;) {
    const c = bytes[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i++
  }
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
/** Where a scalar (number, true, false, null) ends, and where it starts (read backwards). */
const SCALAR_END = new Uint8Array(256)
for (const byte of [COMMA, CLOSE_OBJECT, CLOSE_ARRAY, 0x20, 0x0a, 0x0d, 0x09]) SCALAR_END[byte] = END
const SCALAR_START = new Uint8Array(256)
for (const byte of [COMMA, COLON, OPEN_OBJECT, OPEN_ARRAY, 0x20, 0x0a, 0x0d, 0x09]) SCALAR_START[byte] = END

/** `i` is at an opening quote; returns the index after the closing one. */
function skipString(bytes: Uint8Array, i: number): number {
  // A byte loop beats indexOf here: most strings are short keys.
  let j = i + 1
  for (;;) {
    const c = bytes[j]
    if (c === QUOTE) return j + 1
    if (c === BACKSLASH) j += 2 // the escaped byte, whatever it is; \uXXXX's digits are plain bytes
    else if (c === undefined) throw new Error('unterminated string')
    else j++
  }
}

/** `i` is at the first byte of a value; returns the index after its last byte, or -1 past `maxDepth` levels of nesting. */
function skipValue(bytes: Uint8Array, i: number, maxDepth = Infinity): number {
  const first = bytes[i]
  if (first === QUOTE) return skipString(bytes, i)
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let j = i + 1
    while (j < bytes.length && SCALAR_END[bytes[j]!] !== END) j++
    return j
  }
  let depth = 0
  let j = i
  for (;;) {
    // Past the end, bytes[j] is undefined and so is its class: caught below, off the hot path.
    const c = CLASS[bytes[j]!]
    if (c === PLAIN) j++
    else if (c === STRING) j = skipString(bytes, j)
    else if (c === OPEN) {
      if (++depth > maxDepth) return -1
      j++
    } else if (c === CLOSE) {
      if (--depth === 0) return j + 1
      j++
    } else throw new Error('unterminated value')
  }
}
