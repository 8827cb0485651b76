import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { configuredRules, type ConfiguredRules } from '../alerts/rules-file'
import { parseAgentNetworks } from '../auth/networks'
import { DEFAULT_NET_EXCLUDE } from '../figures/network'
import type { StoreLocation } from '../storage/store'
import { parseAgentTokens, parseCount, parseDuration, parseFlag, parsePort, parseSize, parseTokenList } from './parse'

/** The master's settings (docs/design.md §7). Durations are milliseconds, sizes bytes. */
export interface Config {
  host: string
  port: number
  ingestPort: number
  /** INGEST_THREADS: ingest threads sharing INGEST_PORT, 1–64 (default: the cores but one, at least 1) */
  ingestThreads: number
  /** DB_PATH: the SQLite file (the default store) */
  dbPath: string
  /** where the master stores: SQLite at DB_PATH, or PostgreSQL at DATABASE_URL (with DATABASE_READ_URL for the gateway's reads) */
  store: StoreLocation
  /** REDIS_URL: the DataHub's state shared with other masters; undefined: this master's own */
  redisUrl: string | undefined
  sampleIntervalMs: number
  retentionMs: number
  retentionHourlyMs: number
  cleanupIntervalMs: number
  /** STALE_AFTER; undefined: 3 × the agent's observed interval, at least 15 s */
  staleAfterMs: number | undefined
  agentExpireMs: number
  maxBodyBytes: number
  maxClockSkewMs: number
  writeQueueLimit: number
  /** MAX_INFLIGHT_BYTES: request bodies being read, inflated or parsed at once, all together */
  maxInflightBytes: number
  /** MAX_CLUSTERS: clusters the DataHub keeps state for; a new one past it is refused */
  maxClusters: number
  /** GATEWAY_NICE: the query thread's nice value, 0–19 (Linux): queries yield to agents */
  gatewayNice: number
  agentTokens: Map<string, string[]>
  /** AGENT_ALLOW_NETWORKS as [cluster ("*": any), CIDR] pairs */
  agentNetworks: [string, string][]
  /** NET_EXCLUDE: a regular expression source; interfaces whose name matches are not physical */
  netExclude: string
  /** CORS_ORIGINS: origins whose pages may read the API (AtlHyper's web UI on its own origin); empty: none, "*": any */
  corsOrigins: string[]
  apiTokens: string[]
  /** ALLOW_INSECURE=1: serve a non-loopback HOST without tokens (warned about loudly at start) */
  allowInsecure: boolean
  /** ALERT_RULES: the built-in rules (unset), none, or a YAML / JSON file, read and checked at start */
  alertRules: ConfiguredRules
  /** ALERT_DB: the alerts' own SQLite file (states, history, undelivered notifications); default alerts.db beside DB_PATH */
  alertDbPath: string
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>

/** Reads the environment; a bad value throws a ConfigError that names the variable. */
export function loadConfig(env: Env = process.env): Config {
  const read = <T>(name: string, fallback: string, parse: (text: string) => T): T => {
    const text = env[name]?.trim() || fallback
    try {
      return parse(text)
    } catch (error) {
      throw new ConfigError(`${name}: ${(error as Error).message}`)
    }
  }
  const config: Config = {
    host: read('HOST', '127.0.0.1', (text) => text),
    port: read('PORT', '8080', parsePort),
    ingestPort: read('INGEST_PORT', '8081', parsePort),
    ingestThreads: read('INGEST_THREADS', String(defaultIngestThreads()), parseThreads),
    dbPath: read('DB_PATH', './data/metrics.db', (text) => text),
    store: { dialect: 'sqlite', dbPath: '' },
    redisUrl: read('REDIS_URL', '', (text) => parseUrl(text, ['redis:', 'rediss:'])),
    sampleIntervalMs: read('SAMPLE_INTERVAL', '5m', parseDuration),
    retentionMs: read('RETENTION', '30d', parseDuration),
    retentionHourlyMs: read('RETENTION_HOURLY', '365d', parseDuration),
    cleanupIntervalMs: read('CLEANUP_INTERVAL', '1h', parseDuration),
    staleAfterMs: read('STALE_AFTER', 'auto', (text) => (text === 'auto' ? undefined : parseDuration(text))),
    agentExpireMs: read('AGENT_EXPIRE', '45s', parseDuration),
    maxBodyBytes: read('MAX_BODY', '16MiB', parseSize),
    maxClockSkewMs: read('MAX_CLOCK_SKEW', '5m', parseDuration),
    writeQueueLimit: read('WRITE_QUEUE_LIMIT', '20000', parseCount),
    maxInflightBytes: read('MAX_INFLIGHT_BYTES', '256MiB', parseSize),
    maxClusters: read('MAX_CLUSTERS', '10000', parseCount),
    gatewayNice: read('GATEWAY_NICE', '19', parseNice),
    agentTokens: read('AGENT_TOKENS', '', parseAgentTokens),
    agentNetworks: read('AGENT_ALLOW_NETWORKS', '', parseAgentNetworks),
    netExclude: read('NET_EXCLUDE', DEFAULT_NET_EXCLUDE, parseNetExclude),
    corsOrigins: read('CORS_ORIGINS', '', parseOrigins),
    apiTokens: read('API_TOKENS', '', parseTokenList),
    allowInsecure: read('ALLOW_INSECURE', '0', parseFlag),
    alertRules: read('ALERT_RULES', '', configuredRules),
    alertDbPath: '',
  }
  config.alertDbPath = read('ALERT_DB', join(dirname(config.dbPath), 'alerts.db'), (text) => text)
  const databaseUrl = read('DATABASE_URL', '', (text) => parseUrl(text, ['postgres:', 'postgresql:']))
  const databaseReadUrl = read('DATABASE_READ_URL', '', (text) => parseUrl(text, ['postgres:', 'postgresql:']))
  if (databaseReadUrl && !databaseUrl) throw new ConfigError('DATABASE_READ_URL: needs DATABASE_URL (the primary the writer writes to)')
  config.store = databaseUrl
    ? { dialect: 'postgres', url: databaseUrl, ...(databaseReadUrl ? { readUrl: databaseReadUrl } : {}) }
    : { dialect: 'sqlite', dbPath: config.dbPath }
  const atLeast = (name: string, value: number, minimum: number, shown: string) => {
    if (value < minimum) throw new ConfigError(`${name}: must be at least ${shown}`)
  }
  atLeast('SAMPLE_INTERVAL', config.sampleIntervalMs, 1_000, '1s')
  if (config.sampleIntervalMs % 1_000 !== 0) throw new ConfigError('SAMPLE_INTERVAL: must be a whole number of seconds')
  atLeast('RETENTION', config.retentionMs, config.sampleIntervalMs, 'SAMPLE_INTERVAL')
  atLeast('RETENTION_HOURLY', config.retentionHourlyMs, 3_600_000, '1h')
  atLeast('CLEANUP_INTERVAL', config.cleanupIntervalMs, 10, '10ms')
  atLeast('MAX_BODY', config.maxBodyBytes, 1024, '1KiB')
  atLeast('WRITE_QUEUE_LIMIT', config.writeQueueLimit, 1, '1')
  atLeast('MAX_INFLIGHT_BYTES', config.maxInflightBytes, config.maxBodyBytes, 'MAX_BODY')
  atLeast('MAX_CLUSTERS', config.maxClusters, 1, '1')
  if (config.port !== 0 && config.port === config.ingestPort) {
    throw new ConfigError(`INGEST_PORT: must differ from PORT (${config.port})`)
  }
  const missing = missingTokens(config)
  if (missing.length > 0 && !config.allowInsecure) {
    throw new ConfigError(
      `${missing.join(', ')}: HOST ${config.host} is not loopback, so tokens are required. ` +
        'Set AGENT_TOKENS=cluster=token,… (or *=token for any cluster) or AGENT_ALLOW_NETWORKS=10.0.0.0/8,… ' +
        'and API_TOKENS=token,…, ' +
        'or ALLOW_INSECURE=1 to serve without them.',
    )
  }
  return config
}

/** The token settings a non-loopback HOST lacks (none on loopback). */
export function missingTokens(config: Config): string[] {
  if (isLoopback(config.host)) return []
  return [
    ...(config.agentTokens.size === 0 && config.agentNetworks.length === 0 ? ['AGENT_TOKENS'] : []),
    ...(config.apiTokens.length === 0 ? ['API_TOKENS'] : []),
  ]
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** Past this, more ingest threads only cost memory and start time (~11 MB and 0.2 s each): the DataHub's one thread is the limit long before. */
export const MAX_DEFAULT_INGEST_THREADS = 8

/**
 * One core is left to the DataHub and the writer, which every snapshot passes through; the rest
 * parse and check agent bodies side by side, up to MAX_DEFAULT_INGEST_THREADS.
 */
export function defaultIngestThreads(cores = usableCores()): number {
  return Math.min(MAX_DEFAULT_INGEST_THREADS, Math.max(1, cores - 1))
}

/**
 * The cores this process may use: its CPU affinity, and a cgroup v2 CPU quota (a container's
 * `limits.cpu`) if it is lower — a pod limited to 2 CPUs on a 64-core node has 2.
 */
export function usableCores(cpuMax = readCpuMax()): number {
  const quota = /^(\d+)\s+(\d+)/.exec(cpuMax ?? '')
  const byQuota = quota ? Math.max(1, Math.ceil(Number(quota[1]) / Number(quota[2]))) : Infinity
  return Math.min(availableParallelism(), byQuota)
}

function readCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8')
  } catch {
    return undefined
  }
}

/** INGEST_THREADS: past 64 the threads only cost memory; the DataHub's single thread is the limit long before. */
function parseThreads(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new Error(`expected a number of threads from 1 to 64, got "${text}"`)
  return Number(text)
}

/** A nice value that lowers a thread's priority: 0 (none) to 19 (the lowest). */
function parseNice(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 19) throw new Error(`"${text}" is not a nice value from 0 to 19`)
  return Number(text)
}

/** "none" excludes no interface; anything else must be a valid regular expression. */
function parseNetExclude(text: string): string {
  if (text === 'none') return '(?!)'
  try {
    new RegExp(text)
  } catch (error) {
    throw new Error(`not a valid regular expression: ${(error as Error).message}`)
  }
  return text
}

/** A URL of one of `protocols`, or undefined for an empty setting. */
function parseUrl(text: string, protocols: string[]): string | undefined {
  if (text === '') return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error(`"${redact(text)}" is not a URL such as ${protocols[0]}//host:port/…`)
  }
  if (!protocols.includes(url.protocol)) throw new Error(`expected a ${protocols.join(' or ')} URL, got ${url.protocol}`)
  return text
}

/** A URL with its password left out, for messages and logs. */
export function redact(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0]
  if (!scheme) return '***' // not a URL at all: nothing in it is known not to be a secret
  // One that does not parse may hold a raw ? or # in its password: everything before its last @ is hidden.
  if (!URL.canParse(url)) return `${scheme}***${url.includes('@') ? url.slice(url.lastIndexOf('@')) : ''}`
  const end = url.search(/[?#]/) === -1 ? url.length : url.search(/[?#]/)
  // The user information ends at the last @ before the query: a password may hold a raw @ or /.
  const at = url.lastIndexOf('@', end - 1)
  let shown = url
  if (at >= scheme.length) {
    const user = url.slice(scheme.length, at).split(':')[0]
    const hidden = url.slice(scheme.length, at).includes(':') ? `${user}:***` : user
    shown = `${scheme}${hidden}${url.slice(at)}`
  }
  // libpq and Redis URLs may carry a password as a query parameter too.
  return shown.replace(/([?&](?:password|pass|pwd|sslpassword|token|secret)=)[^&#]*/gi, '$1***')
}

/** "https://ui.example,http://10.0.0.5:3000" or "*": origins exactly as a browser sends them. */
function parseOrigins(text: string): string[] {
  const origins = text.split(',').map((part) => part.trim()).filter(Boolean)
  for (const origin of origins) {
    // Exact origins only: a pattern such as https://*.example would never match what browsers send.
    if (origin !== '*' && !/^https?:\/\/[^/\s*]+$/.test(origin)) throw new Error(`"${origin}" is not an origin such as https://ui.example or http://10.0.0.5:3000 (or *)`)
  }
  return origins
}
