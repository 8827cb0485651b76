/** Value parsers for configuration. Each throws a message that names what it expected. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "500ms", "5s", "5m", "1h", "30d" → milliseconds. A bare number is rejected: units are not guessable. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (!match) throw new Error(`expected a duration such as 500ms, 5s, 5m, 1h or 30d, got "${text}"`)
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]!]!)
}

/** "16MiB", "512KiB", "1048576" → bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(text.trim())
  if (!match) throw new Error(`expected a size such as 1048576, 512KiB or 16MiB, got "${text}"`)
  const unit = (match[2] ?? 'B').toLowerCase()
  const factor = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[unit]!
  return Number(match[1]) * factor
}

export function parseCount(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new Error(`expected a whole number, got "${text}"`)
  return Number(text)
}

export function parseFlag(text: string): boolean {
  if (/^(1|true|yes)$/i.test(text.trim())) return true
  if (/^(0|false|no)$/i.test(text.trim())) return false
  throw new Error(`expected 1 or 0, got "${text}"`)
}

export function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text.trim()) || port > 65535) throw new Error(`expected a port from 0 to 65535, got "${text}"`)
  return port
}

/** "a=tok1,b=tok2,*=tok3" → cluster → tokens. */
export function parseAgentTokens(text: string): Map<string, string[]> {
  const tokens = new Map<string, string[]>()
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=')
    const cluster = entry.slice(0, eq).trim()
    const token = entry.slice(eq + 1).trim()
    if (eq <= 0 || !token) throw new Error('expected cluster=token pairs separated by commas (*=token for any cluster)')
    tokens.set(cluster, [...(tokens.get(cluster) ?? []), token])
  }
  return tokens
}

export function parseTokenList(text: string): string[] {
  return text.split(',').map((part) => part.trim()).filter(Boolean)
}
