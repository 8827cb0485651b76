/**
 * The query with the parameters the client did not send taken out again. Elysia fills in a
 * schema's documented `default` (hours: 24, max_points: 300), but "not given" means something
 * of its own: `hours` with `start` is an error, a fleet query without `max_points` sizes itself.
 */
export function explicitParams<T extends object>(query: T, url: string): T {
  const mark = url.indexOf('?') // never in a path: there it is %3F
  const search = mark < 0 ? '' : url.slice(mark + 1).split('#')[0]!
  const sent = new Set(search.split('&').filter(Boolean).map((pair) => safeDecode(pair.split('=')[0]!)))
  return Object.fromEntries(Object.entries(query).filter(([key]) => sent.has(key))) as T
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}
