import { describe, expect, test } from 'bun:test'
import { validate } from './support/json-schema'

// The contract test is only as good as its checker: each keyword must refuse what it forbids.
describe('the JSON Schema checker of the contract test', () => {
  const cases: [string, object, unknown, boolean][] = [
    ['type', { type: 'integer' }, 1.5, false],
    ['type', { type: 'integer' }, 2, true],
    ['type list', { type: ['string', 'null'] }, null, true],
    ['type list', { type: ['string', 'null'] }, 1, false],
    ['nullable', { type: 'number', nullable: true }, null, true],
    ['required', { type: 'object', required: ['a'], properties: { a: {} } }, {}, false],
    ['properties', { type: 'object', properties: { a: { type: 'string' } } }, { a: 1 }, false],
    ['additionalProperties false', { type: 'object', properties: {}, additionalProperties: false }, { b: 1 }, false],
    ['additionalProperties schema', { type: 'object', additionalProperties: { type: 'number' } }, { b: 'x' }, false],
    ['patternProperties', { type: 'object', patternProperties: { '^(.*)$': { type: 'number' } } }, { b: 'x' }, false],
    ['items', { type: 'array', items: { type: 'number' } }, [1, 'x'], false],
    ['anyOf', { anyOf: [{ type: 'number' }, { type: 'null' }] }, 'x', false],
    ['anyOf', { anyOf: [{ type: 'number' }, { type: 'null' }] }, null, true],
    ['oneOf', { oneOf: [{ type: 'number' }, { type: 'integer' }] }, 1, false],
    ['enum', { enum: ['a', 'b'] }, 'c', false],
    ['const', { const: 'online' }, 'stale', false],
    ['minimum', { type: 'number', minimum: 1 }, 0, false],
    ['maximum', { type: 'number', maximum: 1 }, 2, false],
    ['pattern', { type: 'string', pattern: '^a+$' }, 'ab', false],
    ['$ref', { $ref: '#/$defs/n', $defs: { n: { type: 'number' } } }, 'x', false],
  ]
  for (const [keyword, schema, value, valid] of cases) {
    test(`${keyword}: ${JSON.stringify(value)} is ${valid ? 'valid' : 'invalid'}`, () => {
      expect(validate(schema as any, value).length === 0).toBe(valid)
    })
  }
  test('an unknown keyword fails loudly', () => {
    expect(validate({ type: 'string', multipleOf: 2 } as any, 'x')).toEqual([': the checker does not know multipleOf'])
  })
})
