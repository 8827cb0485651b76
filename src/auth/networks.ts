import ipaddr from 'ipaddr.js'
import { nameProblem } from '../ingest/names'
import { ANY_CLUSTER } from './tokens'

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

/**
 * AGENT_ALLOW_NETWORKS: source networks whose agents need no token (AtlHyper's agent sends
 * none), each for any cluster or for one. An IPv4 client seen as an IPv4-mapped IPv6 address
 * (::ffff:10.1.2.3) is matched as the IPv4 address it is.
 */
export class AgentNetworks {
  private readonly ranges: { cluster: string; range: Range }[]

  constructor(entries: Iterable<[cluster: string, cidr: string]>) {
    this.ranges = [...entries].map(([cluster, cidr]) => ({ cluster, range: parseRange(cidr) }))
  }

  get enabled(): boolean {
    return this.ranges.length > 0
  }

  /** The clusters an agent at this address may write without a token (empty: none). */
  clustersFor(address: string | undefined): Set<string> {
    const clusters = new Set<string>()
    if (!address || !ipaddr.isValid(address)) return clusters
    const source = ipaddr.process(address)
    for (const { cluster, range } of this.ranges) {
      if (source.kind() === range[0].kind() && source.match(range)) clusters.add(cluster)
    }
    return clusters
  }
}

/** "10.0.0.0/8", "fd00::/8", or a single address. Throws a message that names the entry. */
export function parseRange(text: string): Range {
  const [address = '', bits, ...rest] = text.split('/')
  // ipaddr.js also reads legacy forms such as "10.1.2" (10.1.0.2): a network written so is a typo.
  const written = ipaddr.IPv4.isValidFourPartDecimal(address) || ipaddr.IPv6.isValid(address)
  if (!written || rest.length > 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
    throw new Error(`"${text}" is not a network such as 10.0.0.0/8, fd00::/8 or a single address`)
  }
  const parsed = ipaddr.parse(address)
  const width = parsed.kind() === 'ipv4' ? 32 : 128
  const prefix = bits === undefined ? width : Number(bits)
  if (prefix > width) throw new Error(`"${text}" is not a network: an ${parsed.kind()} prefix is at most /${width}`)
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are matched after the same unwrapping.
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress() && prefix >= 96) return [parsed.toIPv4Address(), prefix - 96]
  return [parsed, prefix]
}

/** "10.0.0.0/8,prod=10.1.0.0/16" → [cluster, cidr] pairs; a network without a cluster is for any cluster. */
export function parseAgentNetworks(text: string): [string, string][] {
  return text.split(',').map((part) => part.trim()).filter(Boolean).map((entry) => {
    const eq = entry.indexOf('=')
    const [cluster, cidr] = eq < 0 ? [ANY_CLUSTER, entry] : [entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()]
    if (!cluster || !cidr) throw new Error('expected CIDRs separated by commas, each optionally for one cluster: 10.0.0.0/8,prod=10.1.0.0/16')
    const problem = cluster === ANY_CLUSTER ? undefined : nameProblem(cluster)
    if (problem) throw new Error(`the cluster "${cluster}" ${problem}`)
    parseRange(cidr)
    return [cluster, cidr]
  })
}
