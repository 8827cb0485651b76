import type { Subprocess } from 'bun'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Real PostgreSQL, Redis and Alertmanager servers for the tests, from Debian's packages, each in
 * a temp dir on a free loopback port, stopped and removed by `stop()`. Under CI=true an engine
 * that is not installed is an error (CI installs them); elsewhere the caller skips with the
 * reason (`engineOrSkip`).
 */
export interface Engine {
  url: string
  /** stops the server and removes its files */
  stop(): Promise<void>
  /** stops the server but keeps its data and port, for the fault tests (`resume` starts it again) */
  halt(): Promise<void>
  resume(): Promise<void>
  /** PostgreSQL: the server stopped (SIGSTOP) or let go on (SIGCONT) without a word to its clients */
  freeze?(frozen: boolean): Promise<void>
}

const PG_BIN = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'].find((dir) => existsSync(join(dir, 'initdb')))
const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((path) => existsSync(path))
const ALERTMANAGER = ['/usr/bin/prometheus-alertmanager', '/usr/local/bin/alertmanager'].find((path) => existsSync(path))

export type EngineName = 'postgres' | 'redis' | 'alertmanager'

/** Why an engine cannot be started here, or undefined when it can. */
export function missingEngine(engine: EngineName): string | undefined {
  if (engine === 'postgres' && !PG_BIN) return 'PostgreSQL is not installed (Debian package postgresql)'
  if (engine === 'redis' && !REDIS_SERVER) return 'Redis is not installed (Debian package redis-server)'
  if (engine === 'alertmanager' && !ALERTMANAGER) return 'Alertmanager is not installed (Debian package prometheus-alertmanager)'
  return undefined
}

/** Under CI=true a missing engine fails the test; elsewhere it is skipped with the reason. */
export function engineOrSkip(engine: EngineName): boolean {
  const missing = missingEngine(engine)
  if (!missing) return true
  if (process.env.CI === 'true') throw new Error(`${missing}: .ci/run installs it`)
  console.warn(`skipped: ${missing}`)
  return false
}

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}

/** The `postgres` system user's uid or gid, which runs PostgreSQL when the tests run as root. */
function postgresId(flag: '-u' | '-g'): number {
  const result = Bun.spawnSync(['id', flag, 'postgres'])
  if (result.exitCode !== 0) throw new Error('running as root, but there is no postgres user to run PostgreSQL as')
  return Number(result.stdout.toString().trim())
}

async function run(command: string[], what: string): Promise<void> {
  const proc = Bun.spawn(command, { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err || out}`)
}

export interface PostgresOptions {
  /**
   * Whether the server flushes to disk as PostgreSQL does by default. The tests run without
   * (fsync=off: faster, and a test never outlives a crash of its machine); the benchmark with it,
   * so its figures are a real server's.
   */
  durable?: boolean
}

/**
 * PostgreSQL refuses to run as root: as root, the cluster is made and run by the `postgres`
 * system user (runuser), in a temp dir it owns.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<Engine> {
  if (!PG_BIN) throw new Error(missingEngine('postgres'))
  const dir = mkdtempSync(join(tmpdir(), 'nmm-pg-'))
  chmodSync(dir, 0o700)
  const asRoot = process.getuid?.() === 0
  const as = (command: string[]) => (asRoot ? ['runuser', '-u', 'postgres', '--', ...command] : command)
  if (asRoot) chownSync(dir, postgresId('-u'), postgresId('-g'))
  const data = join(dir, 'data')
  const port = await freePort()
  const pgCtl = (...args: string[]) => as([join(PG_BIN!, 'pg_ctl'), '-D', data, ...args])
  // The same data dir, port and socket dir on every start: `resume` brings back the server `halt` stopped.
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${options.durable ? '' : ' -c fsync=off'}`
  const start = () => run(pgCtl('-l', join(dir, 'log'), '-w', '-t', '30', '-o', settings, 'start'), 'pg_ctl start')
  await run(as([join(PG_BIN, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']), 'initdb')
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await run(pgCtl('-m', 'immediate', '-w', 'stop'), 'pg_ctl stop').catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
    // Fast: sessions are ended (clients see their connections close) and the data is kept.
    halt: () => run(pgCtl('-m', 'fast', '-w', '-t', '30', 'stop'), 'pg_ctl stop'),
    resume: start,
    // SIGSTOP to the postmaster and every backend: a server that hangs, enforcing none of its timeouts.
    async freeze(frozen) {
      const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
      const children = childrenOf(postmaster)
      for (const pid of [postmaster, ...children]) process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT')
    },
  }
}

/** The processes whose parent is `pid` (from /proc: no procps needed). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      // The parent pid is the field after the command name, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(entry)] : []
    } catch {
      return [] // ended meanwhile
    }
  })
}

/** A Redis server without persistence, in the foreground of a child process; `halt` ends it, `resume` starts another on its port. */
export async function startRedis(): Promise<Engine> {
  if (!REDIS_SERVER) throw new Error(missingEngine('redis'))
  const dir = mkdtempSync(join(tmpdir(), 'nmm-redis-'))
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  const launch = async () => {
    const proc = Bun.spawn([REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
      stdout: 'ignore',
      stderr: 'pipe',
    })
    const deadline = Date.now() + 10_000
    for (;;) {
      const client = new Bun.RedisClient(url, { autoReconnect: false })
      try {
        await client.send('PING', [])
        return proc
      } catch (error) {
        if (proc.exitCode !== null || Date.now() > deadline) {
          proc.kill('SIGKILL')
          throw new Error(`redis-server did not start: ${(error as Error).message}`)
        }
        await Bun.sleep(50)
      } finally {
        client.close()
      }
    }
  }
  const server = await childServer(dir, launch)
  return {
    url,
    stop: server.stop,
    // Saved to its dir on the way down (it runs without persistence otherwise), so `resume` starts on the same data.
    halt: () =>
      server.end(async () => {
        const client = new Bun.RedisClient(url, { autoReconnect: false })
        await client.send('SHUTDOWN', ['SAVE']).catch(() => {}) // the server closes the connection instead of answering
        client.close()
      }),
    resume: server.resume,
  }
}

/**
 * A server in a child process that `launch` starts (and waits for): `end` stops it (by SIGTERM
 * unless told how), `resume` starts another the same way, `stop` ends it and removes `dir`. A
 * launch that fails at first removes `dir` too.
 */
async function childServer(dir: string, launch: () => Promise<Subprocess>) {
  let proc: Subprocess | undefined
  try {
    proc = await launch()
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const end = async (shutdown: () => Promise<void> = async () => void proc?.kill('SIGTERM')) => {
    if (!proc) return
    await shutdown()
    await proc.exited
    proc = undefined
  }
  return {
    end,
    async stop() {
      await end()
      rmSync(dir, { recursive: true, force: true })
    },
    async resume() {
      if (!proc) proc = await launch()
    },
  }
}

/**
 * One receiver that sends nothing anywhere: the tests read what Alertmanager holds through its
 * API, they do not want it to notify.
 */
const ALERTMANAGER_CONFIG = `route:
  receiver: nowhere
receivers:
  - name: nowhere
`

/**
 * A Prometheus Alertmanager on a free loopback port, alone (clustering off, so it neither opens
 * the gossip port nor waits for peers), its state in a temp dir. `halt` ends it, `resume` starts
 * another on the same port and dir: an Alertmanager that was down for a while. Undefined when it
 * is not installed (callers check `engineOrSkip('alertmanager')` first).
 */
export async function startAlertmanager(): Promise<Engine | undefined> {
  if (!ALERTMANAGER) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'nmm-am-'))
  const config = join(dir, 'alertmanager.yml')
  writeFileSync(config, ALERTMANAGER_CONFIG)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const launch = async () => {
    const proc = Bun.spawn(
      [
        ALERTMANAGER!, `--config.file=${config}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=', '--log.level=warn',
      ],
      { stdout: 'ignore', stderr: 'pipe' },
    )
    const deadline = Date.now() + 10_000
    for (;;) {
      const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then((response) => response.ok, () => false)
      if (ready) return proc
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL')
        const log = await new Response(proc.stderr).text()
        throw new Error(`prometheus-alertmanager did not start: ${log.trim() || 'not ready in 10 s'}`)
      }
      await Bun.sleep(50)
    }
  }
  const server = await childServer(dir, launch)
  return { url, stop: server.stop, halt: () => server.end(), resume: server.resume }
}
