/**
 * Numbers as the agent wrote them. JSON.parse reads every number as a double, so an int64 above
 * 2^53 or a 1e400 changes when the value is written again. Where the master must write an agent's
 * data again (a mapped model_v3 node, a node given AtlHyper's shape), it parses with
 * `keepRawNumbers`: such numbers are kept as their own text (JSON.rawJSON, with the reviver's
 * source text access), which JSON.stringify writes back unchanged.
 */

type RawJson = { rawJSON: string }
const rawJson = (JSON as unknown as { rawJSON(text: string): RawJson }).rawJSON

/** A JSON.parse reviver: a number JSON.parse cannot hold exactly stays the agent's text. */
export function keepRawNumbers(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || context?.source === undefined || JSON.stringify(value) === context.source) return value
  return rawJson(context.source)
}

/** JSON.parse that keeps inexact numbers as their text. */
export const parseExact = (text: string): unknown => JSON.parse(text, keepRawNumbers as never)

/** The text of a number kept by `keepRawNumbers`, if `value` is one. */
export const rawText = (value: unknown): string | undefined =>
  typeof value === 'object' && value !== null && typeof (value as Partial<RawJson>).rawJSON === 'string' ? (value as RawJson).rawJSON : undefined

/** A plain or kept number as a double (undefined for anything else). */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  const raw = rawText(value)
  return raw === undefined ? undefined : Number(raw)
}

/** a − b, exactly when both are integers the agent wrote beyond a double's precision. */
export function difference(a: unknown, b: unknown): unknown {
  const [x, y] = [rawText(a) ?? a, rawText(b) ?? b]
  const integer = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v))
  if ((typeof x === 'string' || typeof y === 'string') && integer(x) && integer(y)) {
    const exact = BigInt(x as string | number) - BigInt(y as string | number)
    return Number.isSafeInteger(Number(exact)) ? Number(exact) : rawJson(exact.toString())
  }
  const [p, q] = [numberOf(a), numberOf(b)]
  return p !== undefined && q !== undefined ? p - q : undefined
}
