import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import { engineOrSkip, startPostgres, startRedis, type Engine } from './support/engines'

// initdb and a server start take seconds.
setDefaultTimeout(60_000)

/**
 * The engines the multi-master work stands on (issue 12) start here as the suite will use them:
 * Debian's PostgreSQL and Redis, in temp dirs on free ports, reached with Bun's built-in clients.
 */
const hasPostgres = engineOrSkip('postgres')
const hasRedis = engineOrSkip('redis')
let postgres: Engine | undefined
let redis: Engine | undefined

beforeAll(async () => {
  if (hasPostgres) postgres = await startPostgres()
  if (hasRedis) redis = await startRedis()
})
afterAll(async () => {
  await postgres?.stop()
  await redis?.stop()
})

test.if(hasPostgres)('a PostgreSQL server of our own: a table written and read back through Bun.SQL', async () => {
  const sql = new SQL(postgres!.url)
  try {
    await sql`CREATE TABLE probe (id integer PRIMARY KEY, note text)`
    await sql`INSERT INTO probe ${sql([{ id: 1, note: 'one' }, { id: 2, note: 'two' }])}`
    expect(await sql`SELECT id, note FROM probe ORDER BY id`).toEqual([{ id: 1, note: 'one' }, { id: 2, note: 'two' }])
    const [{ version }] = await sql`SELECT current_setting('server_version_num')::int AS version`
    expect(version).toBeGreaterThanOrEqual(150_000)
  } finally {
    await sql.close()
  }
})

test.if(hasRedis)('a Redis server of our own: a key with an expiry written and read back through Bun.RedisClient', async () => {
  const client = new Bun.RedisClient(redis!.url)
  try {
    await client.set('probe', 'value')
    await client.expire('probe', 60)
    expect(await client.get('probe')).toBe('value')
    expect(await client.ttl('probe')).toBeGreaterThan(0)
  } finally {
    client.close()
  }
})
