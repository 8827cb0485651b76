import { SQL } from 'bun'
import { startPostgres, type Engine } from '../../test/support/engines'

/**
 * The PostgreSQL server of a benchmark run: started with PostgreSQL's default durability (every
 * commit flushed to disk), unlike the tests' server, and a fresh database for every measurement,
 * so none starts on another's rows, bloat or cache.
 */
export interface BenchServer {
  /** a new, empty database on the server, after a checkpoint; its URL */
  database(name: string): Promise<string>
  /** drops a database `database` made (its URL), and the disk it took */
  drop(url: string): Promise<void>
  /** the settings that decide what a commit costs, as the server reports them */
  settings(): Promise<ServerSettings>
  stop(): Promise<void>
}

export interface ServerSettings {
  version: string
  fsync: string
  synchronousCommit: string
  fullPageWrites: string
  sharedBuffers: string
  walBuffers: string
}

export async function startBenchServer(): Promise<BenchServer> {
  const engine: Engine = await startPostgres({ durable: true })
  const admin = new SQL(engine.url, { max: 1 })
  const urlOf = (name: string) => {
    const url = new URL(engine.url)
    url.pathname = `/${name}`
    return url.toString()
  }
  return {
    async database(name) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.unsafe(`CREATE DATABASE ${name}`)
      // The last measurement's dirty pages written now, not during the next one's timed phase.
      await admin.unsafe('CHECKPOINT')
      return urlOf(name)
    },
    async drop(url) {
      const name = new URL(url).pathname.slice(1)
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
    async settings() {
      const show = async (name: string) => ((await admin.unsafe(`SHOW ${name}`)) as Record<string, string>[])[0]![name]!
      return {
        version: await show('server_version'),
        fsync: await show('fsync'),
        synchronousCommit: await show('synchronous_commit'),
        fullPageWrites: await show('full_page_writes'),
        sharedBuffers: await show('shared_buffers'),
        walBuffers: await show('wal_buffers'),
      }
    },
    async stop() {
      await admin.close({ timeout: 1 }).catch(() => {})
      await engine.stop()
    },
  }
}
