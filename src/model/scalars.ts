import { Kind, Type, TypeRegistry, type TSchema, type TUnsafe } from '@sinclair/typebox'

/**
 * Scalars as agents send them. Go marshals every field, and a nil slice or pointer as `null`, so
 * `null` means "absent" wherever a value may be. A number is any JSON number: a value out of its
 * physical range is a reason to leave it out of the derived figures, never to refuse a snapshot,
 * and even `1e400` (which JSON.parse reads as Infinity) is the agent's business. In the OpenAPI
 * document these read as `{ type, nullable: true }`.
 */
const NUMBER_KIND = 'NullableNumber'
const STRING_KIND = 'NullableString'
const SCALAR_KIND = 'Scalar'

// Registered where the schemas are defined, so every thread that imports them can check them.
if (!TypeRegistry.Has(NUMBER_KIND)) TypeRegistry.Set(NUMBER_KIND, (_, value) => value === null || typeof value === 'number')
if (!TypeRegistry.Has(STRING_KIND)) TypeRegistry.Set(STRING_KIND, (_, value) => value === null || typeof value === 'string')
if (!TypeRegistry.Has(SCALAR_KIND)) {
  TypeRegistry.Set(SCALAR_KIND, (_, value) => value === null || ['number', 'string', 'boolean'].includes(typeof value))
}

/** A number or null. */
export const numberOrNull = (description?: string) =>
  Type.Unsafe<number | null>({ [Kind]: NUMBER_KIND, type: 'number', nullable: true, ...(description ? { description } : {}) })

/** An optional number that may be null. */
export const num = (description?: string) => Type.Optional(numberOrNull(description))

/** A string or null. */
export const stringOrNull = (description?: string) =>
  Type.Unsafe<string | null>({ [Kind]: STRING_KIND, type: 'string', nullable: true, ...(description ? { description } : {}) })

/** An optional string that may be null. */
export const str = (description?: string) => Type.Optional(stringOrNull(description))

/** A number, string, boolean or null: the leaves of the optional extra groups. */
export const scalar = (): TUnsafe<number | string | boolean | null> =>
  Type.Unsafe<number | string | boolean | null>({ [Kind]: SCALAR_KIND, description: 'a number, string, boolean or null' })

/** `T` or null, optional. */
export const maybe = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]))

/** What a check error of these kinds means, for a person. */
export const KIND_MESSAGES: Record<string, string> = {
  [NUMBER_KIND]: 'expected a number or null',
  [STRING_KIND]: 'expected a string or null',
  [SCALAR_KIND]: 'expected a number, string, boolean or null',
}
