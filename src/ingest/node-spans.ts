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

/** node name → byte range of its value; undefined when there is no (object) `node_metrics` member. */
export function nodeSpans(bytes: Uint8Array): Map<string, Span> | undefined {
  let at = skipSpace(bytes, bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0)
  if (bytes[at] !== OPEN_OBJECT) return undefined
  let found: Span | undefined
  for (const member of members(bytes, at)) {
    if (member.key === NODE_METRICS) found = member.value
  }
  if (!found || bytes[found.start] !== OPEN_OBJECT) return undefined
  const spans = new Map<string, Span>()
  for (const member of members(bytes, found.start)) spans.set(member.key, member.value)
  return spans
}

/** The members of the object that opens at `at`, in order. */
function* members(bytes: Uint8Array, at: number): Generator<{ key: string; value: Span }> {
  let i = skipSpace(bytes, at + 1)
  if (bytes[i] === CLOSE_OBJECT) return
  for (;;) {
    const keyEnd = skipString(bytes, i)
    const key = decodeKey(bytes, i, keyEnd)
    i = skipSpace(bytes, keyEnd)
    if (bytes[i] !== COLON) throw new Error(`expected ":" at byte ${i}`)
    const start = skipSpace(bytes, i + 1)
    const end = skipValue(bytes, start)
    yield { key, value: { start, end } }
    i = skipSpace(bytes, end)
    if (bytes[i] === COMMA) {
      i = skipSpace(bytes, i + 1)
      continue
    }
    if (bytes[i] === CLOSE_OBJECT) return
    throw new Error(`expected "," or "}" at byte ${i}`)
  }
}

function decodeKey(bytes: Uint8Array, start: number, end: number): string {
  const inner = bytes.subarray(start + 1, end - 1)
  // Most keys have no escapes: decode the bytes as they are.
  return inner.includes(BACKSLASH) ? (JSON.parse(utf8.decode(bytes.subarray(start, end))) as string) : utf8.decode(inner)
}

function skipSpace(bytes: Uint8Array, i: number): number {
  for (;;) {
    const c = bytes[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i++
  }
}

/** `i` is at an opening quote; returns the index after the closing one. */
function skipString(bytes: Uint8Array, i: number): number {
  let from = i + 1
  for (;;) {
    const quote = bytes.indexOf(QUOTE, from)
    if (quote < 0) throw new Error('unterminated string')
    let backslashes = 0
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote + 1
    from = quote + 1
  }
}

/** `i` is at the first byte of a value; returns the index after its last byte. */
function skipValue(bytes: Uint8Array, i: number): number {
  const first = bytes[i]
  if (first === QUOTE) return skipString(bytes, i)
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A number, true, false or null: it ends where the structure goes on.
    let j = i + 1
    for (;;) {
      const c = bytes[j]
      if (c === undefined || c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return j
      j++
    }
  }
  let depth = 0
  let j = i
  for (;;) {
    const c = bytes[j]
    if (c === QUOTE) {
      j = skipString(bytes, j)
      continue
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
      if (depth === 0) return j + 1
    } else if (c === undefined) throw new Error('unterminated value')
    j++
  }
}
