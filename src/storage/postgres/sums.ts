/**
 * History sums as SQLite keeps them, so both dialects read back the same numbers. SQLite adds two
 * INTEGERs exactly (64-bit); a `+` that would overflow gives a REAL (a double) instead of failing,
 * and an INTEGER column keeps a REAL that holds an integer in the 64-bit range as an INTEGER
 * again. PostgreSQL's bigint would throw instead and fail the batch, every time it is retried;
 * so sums are `numeric` there, added by these rules: exact while in the 64-bit range, doubles
 * once past it. (Only a bucket of millions of samples near a figure's bound gets there.)
 *
 * In TypeScript a sum is a number while it is an exact integer, a bigint once it is an exact
 * integer past 2^53, and a number of 2^63 or more (a REAL) once it overflowed.
 */
export type Sum = number | bigint

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const TWO_63 = 2 ** 63

/** Whether SQLite holds the value as an INTEGER (an exact 64-bit integer) rather than a REAL. */
const isInteger = (value: Sum) => typeof value === 'bigint' || (Number.isInteger(value) && value >= -TWO_63 && value < TWO_63)

/** `a + b` as SQLite computes it and stores it in an INTEGER column. */
export function addSums(a: Sum, b: Sum): Sum {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b
    if (Number.isSafeInteger(a) && Number.isSafeInteger(b) && Number.isSafeInteger(sum)) return sum
  }
  if (isInteger(a) && isInteger(b)) {
    const exact = BigInt(a) + BigInt(b)
    if (exact >= INT64_MIN && exact <= INT64_MAX) return Number.isSafeInteger(Number(exact)) ? Number(exact) : exact
  }
  // Overflow, or a REAL already: the doubles of both added.
  return Number(a) + Number(b)
}

/** The sum as `numeric` text: every digit of it (String() of a double past 2^53 would round it). */
export function sumText(value: Sum | null): string | null {
  if (value === null) return null
  if (typeof value === 'bigint' || Number.isSafeInteger(value)) return String(value)
  return Number.isInteger(value) ? BigInt(value).toString() : String(value)
}

const MIN = '-9223372036854775808'
const MAX = '9223372036854775807'

/** The SQLSTATE of a batch share that must be added sample by sample (raised by nmm_sum_in_order(), postgres/schema.ts). */
export const SUM_IN_ORDER = 'NM001'

/**
 * `stored + added` of two numeric sums in SQL (either may be NULL: a figure no sample had), by
 * the rules above. `added` is a batch's share of `samples` values added up (write-plan.ts): while
 * everything stays in the 64-bit range that is what SQLite's one-by-one adds give; past it SQLite
 * adds doubles, whose rounding depends on the order, so a share of one value is added as a double
 * and a share of several is refused (SUM_IN_ORDER) — the writer then adds it sample by sample.
 *
 * A double goes back into numeric exactly: through int8 in the 64-bit range (SQLite keeps it as
 * an INTEGER there), else through its text, the shortest decimal that reads back as the same double
 * (extra_float_digits 1, which connect.ts sets; the direct cast keeps only 15 digits).
 */
export const addSumsSql = (stored: string, added: string, samples: string) => {
  const double = `(${stored}::float8 + ${added}::float8)`
  return `CASE WHEN ${stored} IS NULL THEN ${added} WHEN ${added} IS NULL THEN ${stored}
        WHEN ${stored} BETWEEN ${MIN} AND ${MAX} AND ${added} BETWEEN ${MIN} AND ${MAX}
         AND ${stored} + ${added} BETWEEN ${MIN} AND ${MAX} THEN ${stored} + ${added}
        WHEN ${samples} <> 1 THEN nmm_sum_in_order()
        WHEN ${double} >= -9223372036854775808::float8 AND ${double} < 9223372036854775808::float8 THEN ${double}::int8::numeric
        ELSE ${double}::text::numeric END`
}
