import { createHash, timingSafeEqual } from 'node:crypto'
import { HttpError } from '../http/errors'
import { AgentNetworks } from './networks'

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

/**
 * Agent auth: AGENT_TOKENS (which clusters a token may write) and AGENT_ALLOW_NETWORKS (source
 * networks admitted without a token, for agents that cannot send one). Neither set: no agent
 * auth, which the configuration allows only on a loopback HOST.
 */
export class AgentAuth {
  private readonly tokens: TokenSet<string>

  constructor(
    clusterTokens: Iterable<[cluster: string, tokens: string[]]>,
    private readonly networks: AgentNetworks = new AgentNetworks([]),
  ) {
    const pairs: [string, string][] = []
    for (const [cluster, tokens] of clusterTokens) for (const token of tokens) pairs.push([token, cluster])
    this.tokens = new TokenSet(pairs)
  }

  get enabled(): boolean {
    return this.tokens.size > 0 || this.networks.enabled
  }

  /**
   * The clusters the request may write, or undefined when agent auth is off. A token, when
   * tokens are configured and one is sent, decides (a wrong one is 401 wherever it comes from);
   * otherwise the source address must be in AGENT_ALLOW_NETWORKS.
   */
  authenticate(authorization: string | null, address?: string): Set<string> | undefined {
    if (!this.enabled) return undefined
    if (this.tokens.size > 0 && (authorization !== null || !this.networks.enabled)) {
      const clusters = this.tokens.match(bearerToken(authorization, 'agents'))
      if (clusters.length === 0) throw unauthorized('agents')
      return new Set(clusters)
    }
    const clusters = this.networks.clustersFor(address)
    if (clusters.size > 0) return clusters
    const how = this.tokens.size > 0 ? 'send "Authorization: Bearer <token>" or connect from AGENT_ALLOW_NETWORKS' : 'connect from AGENT_ALLOW_NETWORKS'
    throw new HttpError(401, 'unauthorized', `${how}: ${address ?? 'this address'} is not in it (agents)`, {
      'www-authenticate': 'Bearer realm="agents"',
    })
  }

  /** 403 when a valid token of one cluster tries to write another. */
  static authorize(clusters: Set<string> | undefined, clusterId: string): void {
    if (!clusters || clusters.has(ANY_CLUSTER) || clusters.has(clusterId)) return
    throw new HttpError(403, 'forbidden', `this agent may not write cluster "${clusterId}"`)
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
