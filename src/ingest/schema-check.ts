import { type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { TypeSystemPolicy } from '@sinclair/typebox/system'

/**
 * Agent schemas are checked for structure only, and values are never a reason to refuse: a JSON
 * number that JSON.parse reads as ±Infinity (1e400) is still a number. TypeBox refuses non-finite
 * numbers unless its AllowNaN policy is on, and bakes the policy into the code it compiles — so
 * the agent schemas are compiled (and their errors listed) with it on, and nothing else is.
 */
function withAnyNumber<T>(work: () => T): T {
  const before = TypeSystemPolicy.AllowNaN
  TypeSystemPolicy.AllowNaN = true
  try {
    return work()
  } finally {
    TypeSystemPolicy.AllowNaN = before
  }
}

export interface AgentSchema<T extends TSchema> {
  check(value: unknown): value is Static<T>
  /** The first thing wrong with a value that failed `check`, as "path: what was expected". */
  problem(value: unknown): string
}

export function compileAgentSchema<T extends TSchema>(schema: T): AgentSchema<T> {
  const compiled = withAnyNumber(() => TypeCompiler.Compile(schema))
  return {
    check: (value): value is Static<T> => compiled.Check(value),
    problem: (value) => withAnyNumber(() => firstProblem(compiled, value)),
  }
}

/**
 * TypeBox reports a field that may be null (a union with null) as "Expected union value"; this
 * looks inside the variant of the value's own type, or says what the field may be.
 */
function firstProblem<T extends TSchema>(check: TypeCheck<T>, value: unknown): string {
  const first = check.Errors(value).First()
  if (!first) return '/: invalid'
  let error: ValueError = first
  while (error.type === ValueErrorType.Union && error.errors?.length) {
    // The variant of the value's own type says what is wrong inside it (an item, a length); with none, the types allowed do.
    const union: ValueError = error
    const variants = (union.schema.anyOf ?? []) as TSchema[]
    const index = variants.findIndex((variant) => variant.type === jsonType(union.value))
    const own = index >= 0 ? union.errors[index]?.First() : undefined
    if (!own) return `${union.path || '/'}: expected ${describeUnion(union.schema)}`
    error = own
  }
  return `${error.path || '/'}: ${error.message}`
}

function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function describeUnion(schema: TSchema): string {
  const variants = (schema.anyOf ?? []) as TSchema[]
  return variants.map(describe).join(' or ')
}

function describe(schema: TSchema): string {
  switch (schema.type) {
    case 'object':
      return 'an object'
    case 'array':
      return 'an array'
    case 'null':
      return 'null'
    case 'number':
      return 'a number'
    case 'string':
      return 'a string'
    case 'boolean':
      return 'a boolean'
    default:
      return String(schema.type ?? 'a value')
  }
}
