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

  test('no node_metrics, or one that is not an object: none', () => {
    expect(slices('{"cluster_id":"c"}')).toBeUndefined()
    expect(slices('{"node_metrics":[{"node_name":"n1"}]}')).toBeUndefined()
    expect(slices('{"node_metrics":{}}')).toEqual({})
    expect(slices('[{"node_metrics":{}}]')).toBeUndefined()
  })
})
