import type { ErrorBody } from '../model'

/** A rejection with its status and stable code; handlers throw it, the apps' onError render it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return jsonTextResponse(JSON.stringify(body), status, headers)
}

/** For bodies assembled from stored JSON, which must not be parsed and re-serialised. */
export function jsonTextResponse(body: string | Uint8Array, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } })
}

export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  const body: ErrorBody = { error: code, message }
  return jsonResponse(body, status, headers)
}

/**
 * Renders whatever reached an Elysia onError hook as the JSON error of the contract.
 * Validation failures name the field and what it must be; anything unexpected is a 500 whose
 * detail goes to the log, not to the client.
 */
export function renderError(code: string | number, error: unknown, allowedMethods: () => string[] = () => []): Response {
  if (error instanceof HttpError) return errorResponse(error.status, error.code, error.message, error.headers)
  if (code === 'NOT_FOUND') {
    const allowed = allowedMethods()
    if (allowed.length === 0) return errorResponse(404, 'not_found', 'no such route')
    return errorResponse(405, 'method_not_allowed', `this route takes ${allowed.join(', ')}`, { allow: allowed.join(', ') })
  }
  if (code === 'VALIDATION') return errorResponse(400, 'invalid_request', validationMessage(error))
  if (code === 'PARSE') return errorResponse(400, 'invalid_request', 'the request body could not be parsed')
  console.error('unexpected error:', error)
  return errorResponse(500, 'internal', 'internal error; see the server log')
}

interface ElysiaValidationError {
  type?: string
  valueError?: { path?: string; value?: unknown; message?: string; schema?: { description?: string } }
}

const PLACES: Record<string, string> = { query: 'query parameter', params: 'path parameter', body: 'body', headers: 'header' }

/** Elysia validates coerced query values on their own, without a path, so the schema's description must name the field. */
function validationMessage(error: unknown): string {
  const { type, valueError } = error as ElysiaValidationError
  const place = PLACES[type ?? ''] ?? 'parameter'
  const name = valueError?.path ? ` '${valueError.path.replace(/^\//, '')}'` : ''
  const expected = valueError?.schema?.description ?? valueError?.message ?? 'a valid value'
  if (valueError?.value === undefined) return `missing ${place}${name}: expected ${expected}`
  return `invalid ${place}${name} ${JSON.stringify(valueError?.value)}: expected ${expected}`
}

/**
 * The methods some route of `routes` answers at the request's path (empty: no route has the path).
 * `strict` as the app routes (Elysia's strictPath): then `/metrics/` is no route, so 404, not 405.
 * A GET route answers HEAD too.
 */
export function methodsForPath(routes: readonly { method: string; path: string }[], request: Request, strict = false): string[] {
  const pathname = pathnameOf(request.url)
  const methods = routes
    .filter((route) => routePattern(route.path, strict).test(pathname))
    .flatMap((route) => (route.method.toUpperCase() === 'GET' ? ['GET', 'HEAD'] : [route.method.toUpperCase()]))
  return [...new Set(methods)].sort()
}

/**
 * The path of a request URL, read as text: a request without a Host header has a relative URL, and
 * one with a malformed Host (`%`, `x:99999`) an URL that `new URL` refuses — a throw in an error
 * handler escapes to the server's own error page.
 */
export function pathnameOf(url: string): string {
  const path = url.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '').split(/[?#]/)[0]
  return path ? (path.startsWith('/') ? path : `/${path}`) : '/'
}

const routePattern = (path: string, strict: boolean) =>
  new RegExp(`^${path.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : escapeRegExp(part))).join('/')}${strict ? '' : '/?'}$`)

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
