import { createHash, timingSafeEqual } from 'node:crypto'
import { HttpError } from '../http/errors'

/** Any cluster, in AGENT_TOKENS (`*=token`). */
export const ANY_CLUSTER = '*'

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Bearer tokens compared in constant time: digests make every comparison the same length, and
 * every configured token is compared, so the time says nothing about which one nearly matched.
 */
export class TokenSet<T> {
  private readonly entries: { digest: Buffer; value: T }[]

  constructor(entries: Iterable<[token: string, value: T]>) {
    this.entries = [...entries].map(([token, value]) => ({ digest: digest(token), value }))
  }

  get size(): number {
    return this.entries.length
  }

  /** Every value whose token equals the candidate. */
  match(candidate: string): T[] {
    const probe = digest(candidate)
    const found: T[] = []
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, probe)) found.push(entry.value)
    return found
  }
}

/** The token of an `Authorization: Bearer …` header, or a 401 naming what is wrong. */
export function bearerToken(authorization: string | null, realm: string): string {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')
  if (!match) {
    throw new HttpError(401, 'unauthorized', `send "Authorization: Bearer <token>" (${realm})`, {
      'www-authenticate': `Bearer realm="${realm}"`,
    })
  }
  return match[1]!
}

const unauthorized = (realm: string) =>
  new HttpError(401, 'unauthorized', `the token is not valid (${realm})`, { 'www-authenticate': `Bearer realm="${realm}"` })

/** AGENT_TOKENS: which clusters a token may write. Empty: no agent auth (loopback only, see config). */
export class AgentAuth {
  private readonly tokens: TokenSet<string>

  constructor(clusterTokens: Iterable<[cluster: string, tokens: string[]]>) {
    const pairs: [string, string][] = []
    for (const [cluster, tokens] of clusterTokens) for (const token of tokens) pairs.push([token, cluster])
    this.tokens = new TokenSet(pairs)
  }

  get enabled(): boolean {
    return this.tokens.size > 0
  }

  /** The clusters the request's token may write (401 when it has none), or undefined when auth is off. */
  authenticate(authorization: string | null): Set<string> | undefined {
    if (!this.enabled) return undefined
    const clusters = this.tokens.match(bearerToken(authorization, 'agents'))
    if (clusters.length === 0) throw unauthorized('agents')
    return new Set(clusters)
  }

  /** 403 when a valid token of one cluster tries to write another. */
  static authorize(clusters: Set<string> | undefined, clusterId: string): void {
    if (!clusters || clusters.has(ANY_CLUSTER) || clusters.has(clusterId)) return
    throw new HttpError(403, 'forbidden', `this token may not write cluster "${clusterId}"`)
  }
}

/** API_TOKENS: who may read the query API. Empty: open (loopback only, see config). */
export class ApiAuth {
  private readonly tokens: TokenSet<true>

  constructor(tokens: string[]) {
    this.tokens = new TokenSet(tokens.map((token) => [token, true] as [string, true]))
  }

  check(authorization: string | null): void {
    if (this.tokens.size === 0) return
    if (this.tokens.match(bearerToken(authorization, 'api')).length === 0) throw unauthorized('api')
  }
}
