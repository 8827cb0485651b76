import { Type, type TSchema } from '@sinclair/typebox'

/**
 * Scalars as agents send them. Go marshals every field, and a nil slice or pointer as `null`, so
 * `null` means "absent" wherever a value may be. A number is any JSON number: a value out of its
 * physical range is a reason to leave it out of the derived figures, never to refuse a snapshot
 * — the agent schemas are compiled to accept even `1e400`, which JSON.parse reads as Infinity
 * (ingest/schema-check.ts). Plain unions, so the compiled checks stay inline and fast.
 */

/** A number or null. */
export const numberOrNull = (description?: string) => Type.Union([Type.Number(), Type.Null()], description ? { description } : {})

/** An optional number that may be null. */
export const num = (description?: string) => Type.Optional(numberOrNull(description))

/** A string or null. */
export const stringOrNull = (description?: string) => Type.Union([Type.String(), Type.Null()], description ? { description } : {})

/** An optional string that may be null. */
export const str = (description?: string) => Type.Optional(stringOrNull(description))

/** A number, string, boolean or null: the leaves of the optional extra groups. */
export const scalar = () =>
  Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()], { description: 'a number, string, boolean or null' })

/** `T` or null, optional. */
export const maybe = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]))
