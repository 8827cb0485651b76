import { HttpError } from '../http/errors'
import type { ReadStore } from '../storage/store'

/**
 * A query waits at most this long for the store. A server that hangs (stopped, partitioned, out of
 * connections) must not hold dashboards forever: past it they get 503 and retry.
 */
export const READ_DEADLINE_MS = 10_000
const RETRY_AFTER_S = '5'

/** The value of `work`, or a rejection once `ms` have passed without it. */
export function withDeadline<T>(work: T | Promise<T>, ms: number, what: string): Promise<T> {
  if (!(work instanceof Promise)) return Promise.resolve(work)
  let timer: Timer | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the store did not answer within ${ms / 1000} s`)), ms)
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/**
 * The gateway's reads, each bounded by READ_DEADLINE_MS, with a store that cannot answer turned into
 * 503 `store_unavailable` + Retry-After — the API cannot answer now, it is not broken — and logged
 * once per burst of failures (a dashboard polling a dead store would otherwise log a stack a request).
 */
export function guardedReads(store: ReadStore, deadlineMs = READ_DEADLINE_MS): ReadStore {
  let failures = 0
  const failed = (error: unknown): never => {
    if (error instanceof HttpError) throw error
    const message = (error as Error).message
    if (failures++ === 0) console.error(`store reads fail (further failures are counted until they recover): ${message}`)
    throw new HttpError(503, 'store_unavailable', `the store cannot be read now; retry (${message})`, { 'retry-after': RETRY_AFTER_S })
  }
  const succeeded = () => {
    if (failures === 0) return
    console.warn(`store reads recovered after ${failures} failure(s)`)
    failures = 0
  }
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'close') return value
      return async (...args: unknown[]) => {
        try {
          const result = await withDeadline(value.apply(target, args), deadlineMs, String(key))
          succeeded()
          return result
        } catch (error) {
          return failed(error)
        }
      }
    },
  })
}
