import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { ConfigError, loadConfig, redact } from '../src/config/config'
import { parseAgentTokens, parseDuration } from '../src/config/parse'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

describe('configuration', () => {
  test('defaults are those of docs/design.md §7', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      host: '127.0.0.1', port: 8080, ingestPort: 8081, dbPath: './data/metrics.db',
      sampleIntervalMs: 300_000, retentionMs: 30 * 86_400_000, cleanupIntervalMs: 3_600_000,
      maxBodyBytes: 16 * 1024 * 1024, apiTokens: [],
    })
    expect(config.agentTokens.size).toBe(0)
  })

  test('durations take ms, s, m, h and d', () => {
    expect([parseDuration('250ms'), parseDuration('5s'), parseDuration('5m'), parseDuration('1h'), parseDuration('30d')])
      .toEqual([250, 5_000, 300_000, 3_600_000, 2_592_000_000])
  })

  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'http' }, 'PORT'],
    [{ INGEST_PORT: '70000' }, 'INGEST_PORT'],
    [{ SAMPLE_INTERVAL: '5' }, 'SAMPLE_INTERVAL'],
    [{ SAMPLE_INTERVAL: '500ms' }, 'SAMPLE_INTERVAL'],
    [{ SAMPLE_INTERVAL: '1500ms' }, 'SAMPLE_INTERVAL'],
    [{ RETENTION: 'forever' }, 'RETENTION'],
    [{ CLEANUP_INTERVAL: '-1h' }, 'CLEANUP_INTERVAL'],
    [{ MAX_BODY: 'lots' }, 'MAX_BODY'],
    [{ AGENT_TOKENS: 'just-a-token' }, 'AGENT_TOKENS'],
    [{ PORT: '9000', INGEST_PORT: '9000' }, 'INGEST_PORT'],
    [{ NET_EXCLUDE: '^(veth' }, 'NET_EXCLUDE'],
    [{ AGENT_ALLOW_NETWORKS: 'everywhere' }, 'AGENT_ALLOW_NETWORKS'],
    [{ AGENT_ALLOW_NETWORKS: 'a b=10.0.0.0/8' }, 'AGENT_ALLOW_NETWORKS'],
    [{ CORS_ORIGINS: 'atlhyper.example' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://*.example' }, 'CORS_ORIGINS'],
  ]
  for (const [env, name] of bad) {
    test(`a bad ${name} stops the start naming the variable`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError)
      expect(() => loadConfig(env)).toThrow(new RegExp(`^${name}: `))
    })
  }

  test('agent tokens bind clusters to tokens', () => {
    expect([...parseAgentTokens('prod=a, dev=b,*=c,prod=d')]).toEqual([['prod', ['a', 'd']], ['dev', ['b']], ['*', ['c']]])
  })

  test('a bad value through `bun run start` exits non-zero with the variable named', () => {
    const run = Bun.spawnSync(['bun', 'run', 'src/main.ts'], { env: { ...process.env, SAMPLE_INTERVAL: 'soon' } })
    expect(run.exitCode).toBe(2)
    expect(run.stderr.toString()).toContain('SAMPLE_INTERVAL: expected a duration')
  })
})

describe('store URLs (DATABASE_URL, DATABASE_READ_URL, REDIS_URL)', () => {
  test('pick the dialect; a wrong scheme or a read URL alone is refused, naming the variable and never the password', () => {
    expect(loadConfig({}).store).toEqual({ dialect: 'sqlite', dbPath: './data/metrics.db' })
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/m', DATABASE_READ_URL: 'postgresql://u:p@replica/m' }).store)
      .toEqual({ dialect: 'postgres', url: 'postgres://u:p@db/m', readUrl: 'postgresql://u:p@replica/m' })
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379' }).redisUrl).toBe('redis://cache:6379')
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return (error as Error).message
      }
      throw new Error('accepted')
    }
    expect(refusal({ DATABASE_URL: 'mysql://u:SECRET@db/m' })).toMatch(/^DATABASE_URL: expected a postgres: or postgresql: URL/)
    expect(refusal({ DATABASE_URL: 'not a url SECRET' })).toMatch(/^DATABASE_URL: /)
    expect(refusal({ DATABASE_READ_URL: 'postgres://replica/m' })).toMatch(/^DATABASE_READ_URL: needs DATABASE_URL/)
    expect(refusal({ REDIS_URL: 'http://cache' })).toMatch(/^REDIS_URL: /)
    for (const env of [{ DATABASE_URL: 'mysql://u:SECRET@db/m' }, { DATABASE_URL: 'not a url SECRET' }]) expect(refusal(env)).not.toContain('SECRET')
  })

  test('redact hides passwords however they are written: a raw @ or / in them, or a password parameter', () => {
    expect(redact('postgres://nmm:Pa@ss/SECRET@db:5432/metrics')).toBe('postgres://nmm:***@db:5432/metrics')
    expect(redact('redis://:ab@cdSECRET@cache:6379')).toBe('redis://:***@cache:6379')
    expect(redact('postgres://nmm@db/metrics?sslmode=require&password=SECRET')).toBe('postgres://nmm@db/metrics?sslmode=require&password=***')
    expect(redact('postgres://db/metrics')).toBe('postgres://db/metrics')
    expect(redact('SECRET')).toBe('***')
    expect(redact('postgres://u:pa?SECRET@db/metrics')).toBe('postgres://***@db/metrics')
    expect(redact('postgres://u:pa#SECRET@db/metrics')).not.toContain('SECRET')
  })
})
