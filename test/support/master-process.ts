import type { Subprocess } from 'bun'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Runs a master as a child process, for the process tests and the benchmark. */

export interface MasterProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  api: string
  ingest: string
  /** everything the process printed so far */
  output(): string
}

const STARTED = /API and Swagger on http:\/\/[^:]+:(\d+)\/swagger, agents on http:\/\/[^:]+:(\d+)\//

/** `bun run start` as an operator runs it, in a child process that can be signalled or killed. */
export async function spawnMaster(env: Record<string, string>, bunFlags: string[] = []): Promise<MasterProcess> {
  // `bun src/main.ts`, not `bun run`: the child's pid is then the master's, for its memory figures.
  const proc = Bun.spawn(['bun', ...bunFlags, 'src/main.ts'], {
    cwd: `${import.meta.dir}/../..`, // the repository
    // A master on PostgreSQL (no DB_PATH) keeps its alerts beside the default DB_PATH, in the
    // repository: each spawned one gets a file of its own instead.
    env: { ...process.env, PORT: '0', INGEST_PORT: '0', ...(env.DB_PATH || env.ALERT_DB ? {} : { ALERT_DB: ownAlertDb() }), ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += new TextDecoder().decode(chunk)
  }
  void collect(proc.stdout)
  void collect(proc.stderr)
  const deadline = Date.now() + 15_000
  for (;;) {
    const match = STARTED.exec(text)
    if (match) return { proc, api: `http://127.0.0.1:${match[1]}`, ingest: `http://127.0.0.1:${match[2]}`, output: () => text }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`master did not start:\n${text}`)
    }
    await Bun.sleep(20)
  }
}

function ownAlertDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'nmm-alerts-')), 'alerts.db')
}

/** `bun src/main.ts` run to its exit (a refused start, say): its exit code and everything it printed. */
export async function runMasterToExit(env: Record<string, string>): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(['bun', 'src/main.ts'], {
    cwd: `${import.meta.dir}/../..`, // the repository
    env: { ...process.env, PORT: '0', INGEST_PORT: '0', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000)
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  return { code, output: stdout + stderr }
}
