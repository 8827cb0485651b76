import { Kind, Type, TypeRegistry } from '@sinclair/typebox'

/**
 * An integer query parameter written as plain decimal digits. Elysia's own `t.Integer` reads
 * query text with `Number()`, so `0x10`, `1e1`, ` 5` and `5.0` passed as 16, 10, 5 and 5, and the
 * OpenAPI document showed it as a string with a default of 0. This kind checks the text itself
 * and is documented as what it is: `{ type: integer, minimum, maximum, default }`.
 */
const KIND = 'DecimalInteger'
const DIGITS = /^(0|[1-9][0-9]{0,14})$/

TypeRegistry.Set(KIND, (schema: { minimum: number; maximum: number }, value: unknown) => {
  // A number is a default Elysia filled in from the schema; text is what the client sent.
  const integer = typeof value === 'number' ? value : typeof value === 'string' && DIGITS.test(value) ? Number(value) : Number.NaN
  return Number.isInteger(integer) && integer >= schema.minimum && integer <= schema.maximum
})

export interface DecimalIntegerOptions {
  minimum: number
  maximum: number
  /** Documented, and filled in by Elysia when the parameter is absent. */
  default?: number
  /** Validation messages quote it: it must say what the parameter is and its range. */
  description: string
}

/** A decimal integer within bounds, decoded to a number for the handler. */
export const DecimalInteger = (options: DecimalIntegerOptions) =>
  // Typed as the number it decodes to: the text only exists between the request and Decode.
  Type.Transform(Type.Unsafe<number>({ [Kind]: KIND, type: 'integer', ...options }))
    .Decode((value) => Number(value))
    .Encode((value) => value)
