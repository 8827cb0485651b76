import { gunzipSync } from 'node:zlib'
import { HttpError } from '../http/errors'
import { concatBytes } from '../storage/node-rows'

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

/**
 * Reads an agent's request body, never holding more than `maxBytes` of it: the compressed
 * bytes are counted as they arrive and the gzip output is cut off at the same bound.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<AgentBody> {
  const contentType = request.headers.get('content-type')
  if (contentType !== null && !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json, got "${contentType}"`)
  }
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'gzip' && encoding !== 'identity') {
    throw new HttpError(415, 'unsupported_media_type', `Content-Encoding must be gzip or absent, got "${encoding}"`)
  }
  const raw = await readBounded(request, maxBytes)
  const gzipped = encoding === 'gzip'
  const bytes = gzipped ? gunzipBounded(raw, maxBytes) : raw
  try {
    return { text: utf8.decode(bytes), bytes, raw, gzipped }
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid UTF-8')
  }
}

const tooLarge = (maxBytes: number, what: string) =>
  new HttpError(413, 'body_too_large', `the ${what} body exceeds the limit of ${maxBytes} bytes (MAX_BODY)`)

async function readBounded(request: Request, maxBytes: number): Promise<Uint8Array> {
  const length = request.headers.get('content-length')
  const declared = Number(length ?? 0)
  if (declared > maxBytes) throw tooLarge(maxBytes, 'request')
  // A declared length within the bound is enforced by the server itself: read it in one go.
  if (length !== null) return new Uint8Array(await request.arrayBuffer())
  if (!request.body) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel()
      throw tooLarge(maxBytes, 'request')
    }
    chunks.push(value)
  }
  return concatBytes(chunks)
}

function gunzipBounded(bytes: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes })
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes, 'decompressed')
    throw new HttpError(400, 'invalid_gzip', `the body is not valid gzip: ${(error as Error).message}`)
  }
}
