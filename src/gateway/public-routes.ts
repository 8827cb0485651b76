/**
 * The routes anyone may read with API_TOKENS set: the health check, the dashboard page and its
 * assets (the page asks for the token itself), and the API document. Every other route needs a
 * token — a new route is guarded unless it is added here.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/', '/assets/:file', '/swagger', '/swagger/json', '/swagger/cdn'])

/** By the route Elysia matched; a CORS preflight (OPTIONS, which carries no token) answers no data. */
export function isPublicRoute(method: string, route: string): boolean {
  return method === 'OPTIONS' || PUBLIC_ROUTES.has(route)
}
