import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/**
 * The README's two commands are the whole set-up once Bun is there: on a clone without
 * node_modules, `bun test` and `bun run start` install the locked dependencies themselves.
 */

const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'nmm-clone-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function cloneWithoutDependencies(name: string): string {
  const target = join(dir, name)
  const clone = Bun.spawnSync(['git', 'clone', '--quiet', '--no-hardlinks', root, target])
  if (clone.exitCode !== 0) throw new Error(`git clone failed: ${clone.stderr.toString()}`)
  expect(existsSync(join(target, 'node_modules'))).toBe(false)
  return target
}

test('bun test on a fresh clone installs the dependencies and runs', () => {
  const clone = cloneWithoutDependencies('test')
  const run = Bun.spawnSync(['bun', 'test', 'test/time.test.ts', 'test/config.test.ts'], { cwd: clone, env: { ...process.env, CI: '' } })
  const output = run.stdout.toString() + run.stderr.toString()
  expect(output).toContain('installing the locked dependencies')
  expect(output).toMatch(/\b0 fail\b/)
  expect(run.exitCode).toBe(0)
})

test('bun run start on a fresh clone installs the dependencies and serves', async () => {
  const clone = cloneWithoutDependencies('start')
  const proc = Bun.spawn(['bun', 'run', 'start'], {
    cwd: clone,
    env: { ...process.env, PORT: '0', INGEST_PORT: '0', DB_PATH: join(clone, 'data', 'metrics.db') },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let output = ''
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += new TextDecoder().decode(chunk)
  }
  void collect(proc.stdout)
  void collect(proc.stderr)
  const deadline = Date.now() + 25_000
  let api: string | undefined
  while (!api && Date.now() < deadline && proc.exitCode === null) {
    api = /dashboard on (http:\/\/[^/]+)\//.exec(output)?.[1]
    await Bun.sleep(50)
  }
  try {
    expect(output).toContain('installing the locked dependencies')
    expect(api).toBeDefined()
    expect((await fetch(`${api}/healthz`)).status).toBe(200)
  } finally {
    // As Ctrl-C in a terminal does: the signal reaches every process of the command, the master
    // (a child of the first run, which ran the command again after installing) included.
    for (const pid of [...descendants(proc.pid), proc.pid]) process.kill(pid, 'SIGTERM')
    await proc.exited
    const stopBy = Date.now() + 12_000
    while (!output.includes('stopped cleanly') && Date.now() < stopBy) await Bun.sleep(50)
  }
  expect(output).toContain('stopped cleanly')
}, 40_000)

/** Every process below `pid`, deepest first, read from /proc (no procps needed). */
function descendants(pid: number): number[] {
  const children = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((entry) => {
    try {
      // stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid
    } catch {
      return false
    }
  }).map(Number)
  return children.flatMap((child) => [...descendants(child), child])
}
