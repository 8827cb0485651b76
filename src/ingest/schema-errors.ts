import { Kind, type TSchema } from '@sinclair/typebox'
import type { TypeCheck } from '@sinclair/typebox/compiler'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { KIND_MESSAGES } from '../model/scalars'

/**
 * The first thing wrong with a value, as "path: what was expected". TypeBox reports a field that
 * may be null (a union with null) as "Expected union value"; this looks inside the union and
 * names the deepest problem, or says what the field may be.
 */
export function firstProblem<T extends TSchema>(check: TypeCheck<T>, value: unknown): string {
  let error: ValueError | undefined = check.Errors(value).First()
  if (!error) return '/: invalid'
  for (;;) {
    if (error.type !== ValueErrorType.Union || !error.errors?.length) break
    const inner: ValueError[] = error.errors.map((iterator) => iterator.First()).filter((found): found is ValueError => found !== undefined)
    const deepest: ValueError | undefined = inner.sort((a, b) => b.path.length - a.path.length)[0]
    if (!deepest || deepest.path.length <= error.path.length) return `${error.path || '/'}: expected ${describeUnion(error.schema)}`
    error = deepest
  }
  return `${error.path || '/'}: ${error.message ?? KIND_MESSAGES[String(error.schema[Kind])] ?? 'invalid'}`
}

function describeUnion(schema: TSchema): string {
  const variants = (schema.anyOf ?? []) as TSchema[]
  return variants.map(describe).join(' or ')
}

function describe(schema: TSchema): string {
  const kind = String(schema[Kind])
  if (KIND_MESSAGES[kind]) return KIND_MESSAGES[kind].replace(/^expected /, '')
  switch (schema.type) {
    case 'object':
      return 'an object'
    case 'array':
      return 'an array'
    case 'null':
      return 'null'
    default:
      return String(schema.type ?? kind.toLowerCase())
  }
}
