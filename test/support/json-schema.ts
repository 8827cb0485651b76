/**
 * A JSON Schema checker for the subset the OpenAPI document uses: type (a name or a list of
 * names, `nullable`), properties / required / additionalProperties / patternProperties, items /
 * minItems / maxItems, anyOf / oneOf / allOf, enum / const, minimum / maximum, minLength /
 * maxLength / pattern, and local `$ref`s. A keyword it does not know fails loudly, so the
 * contract test cannot pass by skipping part of a schema.
 */
export type Schema = Record<string, any>

const KNOWN = new Set([
  'type', 'nullable', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', 'minItems', 'maxItems',
  'anyOf', 'oneOf', 'allOf', 'enum', 'const', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', '$ref',
  // annotations: they constrain nothing
  'description', 'title', 'default', 'examples', 'example', 'format', 'contentMediaType', 'readOnly', 'deprecated',
])

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value)
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    default:
      return typeOf(value) === type
  }
}

/** Every way `value` breaks `schema`, as `path: what`; empty when it conforms. */
export function validate(schema: Schema, value: unknown, root: Schema = schema, path = ''): string[] {
  if (schema.$ref) {
    const target = (schema.$ref as string).replace(/^#\//, '').split('/').reduce((node: any, key) => node?.[key], root)
    if (!target) return [`${path}: unresolved $ref ${schema.$ref}`]
    return validate(target, value, root, path)
  }
  const unknown = Object.keys(schema).filter((key) => !KNOWN.has(key) && !key.startsWith('x-'))
  if (unknown.length > 0) return [`${path}: the checker does not know ${unknown.join(', ')}`]
  const at = path || '/'
  if (value === null && schema.nullable === true) return []
  const errors: string[] = []
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type]
    if (!types.some((type) => hasType(value, type))) return [`${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${types.join(' or ')}`]
  }
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`)
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: ${value} < ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: ${value} > ${schema.maximum}`)
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [...value].length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`)
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`)
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`)
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`)
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`)
    if (schema.items) value.forEach((item, index) => errors.push(...validate(schema.items, item, root, `${path}/${index}`)))
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>
    for (const key of schema.required ?? []) if (!(key in object)) errors.push(`${at}: missing ${key}`)
    for (const [key, item] of Object.entries(object)) {
      const where = `${path}/${key}`
      const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, Schema>).filter(([pattern]) => new RegExp(pattern, 'u').test(key))
      if (schema.properties && key in schema.properties) errors.push(...validate(schema.properties[key], item, root, where))
      for (const [, sub] of patterns) errors.push(...validate(sub, item, root, where))
      if ((schema.properties && key in schema.properties) || patterns.length > 0) continue
      if (schema.additionalProperties === false) errors.push(`${at}: unexpected property ${key}`)
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, item, root, where))
    }
  }
  if (schema.allOf) for (const sub of schema.allOf) errors.push(...validate(sub, value, root, path))
  if (schema.anyOf && !schema.anyOf.some((sub: Schema) => validate(sub, value, root, path).length === 0)) {
    errors.push(`${at}: matches none of anyOf (${schema.anyOf.map((sub: Schema) => validate(sub, value, root, path)[0]).join('; ')})`)
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((sub: Schema) => validate(sub, value, root, path).length === 0).length
    if (matching !== 1) errors.push(`${at}: matches ${matching} of oneOf, not exactly 1`)
  }
  return errors
}
