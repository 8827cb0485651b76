import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { ConfigError, loadConfig } from '../src/config/config'
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
