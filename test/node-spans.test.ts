import { describe, expect, test } from 'bun:test'
import { nodeSpans } from '../src/ingest/node-spans'

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** node name → the exact text of its value, as the scanner slices it. */
function slices(body: string): Record<string, string> | undefined {
  const bytes = utf8.encode(body)
  const spans = nodeSpans(bytes)
  return spans && Object.fromEntries([...spans].map(([name, span]) => [name, text.decode(bytes.subarray(span.start, span.end))]))
}

describe('each node is sliced out of the body byte for byte', () => {
  test('values come back as written: big integers, exponents, whitespace and all', () => {
    const n1 = '{"node_name":"n1","rx_bytes":9223372036854775807,"rate":1.8446744073709552e+18,"x":[1, 2 ,{"y":null}]}'
    const n2 = '{ "node_name" : "n2" , "os" : "" }'
    expect(slices(`{"cluster_id":"c","node_metrics":{"n1":${n1},\n  "n2" :  ${n2}  },"pods":[]}`)).toEqual({ n1, n2 })
  })

  test('strings with brackets, braces, escaped quotes and backslashes do not confuse it', () => {
    const n1 = String.raw`{"cmdline":"java -D\"a}b\" C:\\path\\ [x] {y}","label":"\\","t":"\u00e9"}`
    const before = String.raw`"pods":[{"name":"}\"]{["}],"note":"node_metrics","x":"\\"`
    expect(slices(`{${before},"node_metrics":{"n1":${n1}}}`)).toEqual({ n1 })
  })

  test('multi-byte characters before and inside a node keep the byte offsets right', () => {
    const n1 = '{"os":"Ubuntu — 节点 🔥","node_name":"n1"}'
    expect(slices(`{"comment":"ß节🔥","node_metrics":{"n1":${n1}}}`)).toEqual({ n1 })
  })

  test('keys are compared decoded; a key given twice resolves as JSON.parse resolves it: the last one', () => {
    expect(slices('{"node\\u005fmetrics":{"n\\u0031":{"a":1}}}')).toEqual({ n1: '{"a":1}' })
    expect(slices('{"node_metrics":{"n1":{"a":1}},"node_metrics":{"n1":{"a":2},"n1":{"a":3}}}')).toEqual({ n1: '{"a":3}' })
  })

  test('scalar, null and nested members at the top level are stepped over; a byte-order mark is skipped', () => {
    expect(slices('\ufeff{"a":true,"b":null,"c":-1.5e-3,"d":[[],{}],"node_metrics":{"n1":null,"n2":{}}}')).toEqual({ n1: 'null', n2: '{}' })
  })

  test('a node_metrics nested deeper, or inside a string, is not the top-level one', () => {
    const body = '{"node_metrics":{"n1":{"a":1}},"pods":[{"node_metrics":{"x":{}}}],"note":"\\"node_metrics\\":{}","z":{"node_metrics":5}}'
    expect(slices(body)).toEqual({ n1: '{"a":1}' })
  })

  test('no node_metrics, or one that is not an object: none', () => {
    expect(slices('{"cluster_id":"c"}')).toBeUndefined()
    expect(slices('{"node_metrics":[{"node_name":"n1"}]}')).toBeUndefined()
    expect(slices('{"node_metrics":{}}')).toEqual({})
    expect(slices('[{"node_metrics":{}}]')).toBeUndefined()
  })
})

describe('against JSON.parse, on 2,000 random bodies', () => {
  /** A small seeded generator, so a failure replays the same bodies. */
  function random(seed: number) {
    return () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff
      return seed / 0x80000000
    }
  }

  test('every node slices to exactly the value JSON.parse gives for it', () => {
    const next = random(7)
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!
    const space = () => pick(['', '', ' ', '\n  ', '\t'])
    const strings = ['', 'a', 'node_metrics', '"quoted"', 'back\\slash', 'ends with \\', '}]{[', '节点 🔥', '\u0000\u001f', ':,"']
    const value = (depth: number): string => {
      const kind = depth > 3 ? pick(['n', 's', 'l']) : pick(['n', 's', 'l', 'o', 'a', 'o'])
      if (kind === 'n') return pick(['0', '-1.5e-3', '9223372036854775807', '1e400', 'true', 'false', 'null'])
      if (kind === 's' || kind === 'l') return JSON.stringify(pick(strings))
      if (kind === 'a') return `[${space()}${Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`
      const keys = Array.from({ length: Math.floor(next() * 4) }, () => JSON.stringify(pick([...strings, 'node_metrics', 'k'])))
      return `{${space()}${keys.map((key) => `${key}${space()}:${space()}${value(depth + 1)}`).join(`${space()},${space()}`)}${space()}}`
    }
    let checked = 0
    for (let round = 0; round < 2_000; round++) {
      const members: string[] = []
      const count = 1 + Math.floor(next() * 5)
      for (let i = 0; i < count; i++) {
        if (next() < 0.4) {
          const nodes = Array.from({ length: Math.floor(next() * 4) }, (_, n) => `${JSON.stringify(pick([`n${n}`, `n${n}`, 'n\u0031', 'x']))}${space()}:${space()}${value(1)}`)
          members.push(`"node_metrics"${space()}:${space()}{${space()}${nodes.join(`${space()},${space()}`)}${space()}}`)
        } else {
          members.push(`${JSON.stringify(pick(['pods', 'summary', 'node_metrics_x', 'a\\"b']))}${space()}:${space()}${value(0)}`)
        }
      }
      const body = `${space()}{${space()}${members.join(`${space()},${space()}`)}${space()}}${space()}`
      const parsed = JSON.parse(body)
      const sliced = slices(body)
      const expected = typeof parsed.node_metrics === 'object' && parsed.node_metrics !== null && !Array.isArray(parsed.node_metrics) ? parsed.node_metrics : undefined
      if (expected === undefined) {
        expect({ body, sliced }).toEqual({ body, sliced: undefined })
        continue
      }
      checked += Object.keys(expected).length
      expect(Object.keys(sliced!).sort()).toEqual(Object.keys(expected).sort())
      for (const [name, text] of Object.entries(sliced!)) expect({ body, name, value: JSON.parse(text) }).toEqual({ body, name, value: expected[name] })
    }
    expect(checked).toBeGreaterThan(1_000) // the bodies do carry nodes
  })
})
