import { gunzipSync } from 'node:zlib'
import { HttpError } from '../http/errors'
import { concatBytes } from '../storage/node-rows'
import { ClientAborted } from './aborts'
import { busy, type Lease } from './inflight'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface AgentBody {
  /** the decompressed JSON text */
  text: string
  /** the decompressed bytes the text was decoded from (nodes are stored as slices of them) */
  bytes: Uint8Array
  /** the bytes as they came (gzip or not), in a buffer of their own */
  raw: Uint8Array
  gzipped: boolean
}

export interface BodyReading {
  /** MAX_BODY (or a route's own smaller bound), compressed and decompressed alike */
  maxBytes: number
  /** the bound's name in a 413's message (default MAX_BODY) */
  limitName?: string
  /** the request's share of MAX_INFLIGHT_BYTES: every byte read, inflated or decoded is taken from it */
  lease: Lease
  /** the ingest thread is stopping: an unfinished body was never acknowledged, so it is not read on */
  stopping: AbortSignal
}

/** The answer to a body the master stops reading because it is stopping; the agent sends it again to the next master. */
export const stoppingError = () =>
  new HttpError(503, 'stopping', 'the master is stopping; send the snapshot again shortly', { 'retry-after': '1', connection: 'close' })

/**
 * Reads an agent's request body, never holding more than `maxBytes` of it: the compressed
 * bytes are counted as they arrive and the gzip output is cut off at the same bound. Every byte
 * is taken from the request's lease first: a declared length before the first byte is read, a
 * chunked body chunk by chunk, then the inflated bytes and the decoded text.
 */
export async function readJsonBody(request: Request, reading: BodyReading): Promise<AgentBody> {
  const contentType = request.headers.get('content-type')
  if (contentType !== null && !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json, got "${contentType}"`)
  }
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'gzip' && encoding !== 'identity') {
    throw new HttpError(415, 'unsupported_media_type', `Content-Encoding must be gzip or absent, got "${encoding}"`)
  }
  const raw = await readBounded(request, reading)
  const gzipped = encoding === 'gzip'
  const bytes = gzipped ? gunzipBounded(raw, reading) : raw
  // The decoded text is a copy of its own (one byte a character for the ASCII of JSON).
  reading.lease.take(bytes.byteLength)
  try {
    return { text: utf8.decode(bytes), bytes, raw, gzipped }
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid UTF-8')
  }
}

const tooLarge = (maxBytes: number, what: string, limitName = 'MAX_BODY') =>
  new HttpError(413, 'body_too_large', `the ${what} body exceeds the limit of ${maxBytes} bytes (${limitName})`)

/**
 * A body that trickles in holds its share of MAX_INFLIGHT_BYTES while it does: a few sockets
 * sending a byte every few seconds (each under the server's idle timeout) would lock every agent
 * out. After a grace period a body must have come at this average rate at least, or it is cut off
 * with 408. Any real link to a master is far faster.
 */
const BODY_GRACE_MS = 10_000
const MIN_UPLOAD_BYTES_PER_S = 16 * 1024

async function readBounded(request: Request, { maxBytes, limitName, lease, stopping }: BodyReading): Promise<Uint8Array> {
  const length = request.headers.get('content-length')
  const declared = length === null || !/^\d+$/.test(length.trim()) ? undefined : Number(length)
  if (declared !== undefined && declared > maxBytes) throw tooLarge(maxBytes, 'request', limitName)
  if (stopping.aborted) throw stoppingError()
  // Before a byte is read: a declared length is reserved whole, a chunked body needs room at all.
  lease.take(declared ?? 0)
  if (!request.body || declared === 0) return new Uint8Array()

  const reader = request.body.getReader()
  const interrupted = interruption([stopping, request.signal])
  // A declared body goes straight into a buffer of its size: one copy, no joining.
  const whole = declared !== undefined ? new Uint8Array(declared) : undefined
  const chunks: Uint8Array[] = []
  let total = 0
  const started = performance.now()
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), interrupted.promise])
      if (done) break
      if (total + value.byteLength > maxBytes) throw tooLarge(maxBytes, 'request', limitName)
      const elapsedMs = performance.now() - started
      const completes = declared !== undefined && total + value.byteLength === declared
      if (!completes && elapsedMs > BODY_GRACE_MS && total + value.byteLength < (MIN_UPLOAD_BYTES_PER_S * elapsedMs) / 1000) {
        throw new HttpError(408, 'body_too_slow', `the body came slower than ${MIN_UPLOAD_BYTES_PER_S / 1024} KiB/s after ${BODY_GRACE_MS / 1000} s; it is not read on`, { connection: 'close' })
      }
      if (whole) {
        if (total + value.byteLength > whole.byteLength) throw new HttpError(400, 'invalid_body', 'the body is longer than its Content-Length')
        whole.set(value, total)
      } else {
        lease.take(value.byteLength) // throws 503 busy once the sum of all bodies would pass the budget
        chunks.push(value)
      }
      total += value.byteLength
    }
  } catch (error) {
    reader.cancel().catch(() => {})
    if (error instanceof HttpError) throw error
    if (stopping.aborted) throw stoppingError()
    // Bun rejects the read with an AbortError DOMException when the client hangs up mid-body.
    if (request.signal.aborted || (error as { name?: string })?.name === 'AbortError') throw new ClientAborted()
    throw error
  } finally {
    interrupted.dispose()
  }
  if (whole) return total === whole.byteLength ? whole : whole.slice(0, total)
  return concatBytes(chunks)
}

/** A promise that rejects when any of the signals aborts, and a way to stop listening. */
function interruption(signals: AbortSignal[]): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {}
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new DOMException('interrupted', 'AbortError'))
    for (const signal of signals) {
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort)
    }
  })
  promise.catch(() => {}) // no unhandled rejection when no read is waiting on it
  return { promise, dispose: () => signals.forEach((signal) => signal.removeEventListener('abort', onAbort)) }
}

/**
 * gunzipSync runs to the end in this turn, so no other request's lease changes meanwhile: its
 * output is capped at what the budget has room for, and then taken.
 */
function gunzipBounded(bytes: Uint8Array, { maxBytes, limitName, lease }: BodyReading): Uint8Array {
  const cap = Math.min(maxBytes, lease.room)
  let out: Uint8Array
  try {
    out = gunzipSync(bytes, { maxOutputLength: Math.max(cap, 1) })
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      if (cap < maxBytes) throw busy(lease.limit)
      throw tooLarge(maxBytes, 'decompressed', limitName)
    }
    throw new HttpError(400, 'invalid_gzip', `the body is not valid gzip: ${(error as Error).message}`)
  }
  lease.take(out.byteLength)
  return out
}
