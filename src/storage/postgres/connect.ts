import { SQL } from 'bun'
import { redact } from '../../config/config'

/** Seconds to wait for a new connection: long enough for a server across a region, short enough that an agent's request fails in time. */
const CONNECT_TIMEOUT_S = 10
/** Seconds an unused connection stays open: a quiet master gives its server connections back. */
const IDLE_TIMEOUT_S = 60

/**
 * Limits the server enforces on every session, so that no master — frozen mid-transaction by a
 * SIGSTOP or a partition, holding its nodes' locks — can stop the others: the server ends a
 * transaction left idle (and with it its locks), and a write waits only so long for a lock before it
 * fails (its agents get 503 and retry). A statement runs at most so long. (A server that hangs
 * itself enforces nothing: the writer and the gateway bound their waits too.)
 */
const SESSION_LIMITS: Record<PoolOptions['role'], Record<string, string>> = {
  writer: { lock_timeout: '5s', statement_timeout: '30s', idle_in_transaction_session_timeout: '10s' },
  reader: { statement_timeout: '30s', idle_in_transaction_session_timeout: '10s' },
}

export interface PoolOptions {
  /** connections at most (a `max` in the URL wins) */
  max: number
  /** what the pool is for, as the server lists its sessions (pg_stat_activity.application_name) */
  role: 'writer' | 'reader'
}

/**
 * A pool of connections through Bun's built-in client. It connects on first use, and again by
 * itself after the server went away: each query that finds no open connection opens one, so a
 * restarted server is used again as soon as it accepts connections (test/storage-contract.test.ts
 * stops and starts one under a live pool).
 */
export function openPool(url: string, options: PoolOptions): SQL {
  const params = new URL(url).searchParams
  return new SQL(url, {
    ...(params.has('max') ? {} : { max: options.max }),
    ...(params.has('connect_timeout') ? {} : { connectionTimeout: CONNECT_TIMEOUT_S }),
    ...(params.has('idle_timeout') ? {} : { idleTimeout: IDLE_TIMEOUT_S }),
    connection: {
      application_name: `node-metrics-master ${options.role}`,
      // Doubles print as the shortest text that reads back as the same double (postgres/sums.ts relies on it).
      extra_float_digits: '1',
      ...SESSION_LIMITS[options.role],
    },
  })
}

/** Bun's codes (and the system's) for a server that could not be reached at all. */
const UNREACHABLE = /CONNECTION_(REFUSED|FAILED|TIMEOUT|CLOSED)|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN/

/** Whether an error says the server could not be reached (rather than refusing what was asked). */
export function isUnreachable(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown }
  return UNREACHABLE.test(`${String(code ?? '')} ${String(message ?? '')}`)
}

/**
 * An error of opening a store, for the operator: which server (its URL without the password), and
 * whether it could not be reached or refused. The password is taken out of the client's own
 * message too, should it ever quote it; the client's error is not kept as a cause, which a log
 * would print whole.
 */
export function openError(url: string, error: unknown): Error {
  const password = safePassword(url)
  let message = error instanceof Error ? error.message : String(error)
  if (password) message = message.split(password).join('***')
  const code = (error as { code?: unknown }).code
  const detail = typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message
  return new Error(
    isUnreachable(error) ? `PostgreSQL at ${redact(url)} is unreachable: ${detail}` : `PostgreSQL at ${redact(url)} refused: ${detail}`,
  )
}

function safePassword(url: string): string | undefined {
  try {
    const parsed = new URL(url)
    return parsed.password ? decodeURIComponent(parsed.password) : undefined
  } catch {
    return undefined
  }
}
