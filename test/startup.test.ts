import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs'
import { runMasterToExit, spawnMaster } from './support/master-process'
import { ALERTS_NICE } from '../src/alerts/serve'
import { loadConfig } from '../src/config/config'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

/** How the master refuses to start, as an operator sees it: the exit code, one clear line, no debris. */

let dirs: string[] = []
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs = []
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nmm-startup-'))
  dirs.push(dir)
  return dir
}

const start = runMasterToExit

describe('a damaged database file refuses to start (exit code 2)', () => {
  test('not a database at all', async () => {
    const dbPath = join(tempDir(), 'metrics.db')
    writeFileSync(dbPath, 'this is not an SQLite file'.repeat(200))
    const { code, output } = await start({ DB_PATH: dbPath })
    expect(code).toBe(2)
    expect(output).toContain(`cannot start: cannot open ${dbPath}`)
    expect(output).toMatch(/not a database/)
  })

  test('a database whose pages are damaged: PRAGMA quick_check says so', async () => {
    const dbPath = join(tempDir(), 'metrics.db')
    const db = new Database(dbPath, { create: true })
    db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)')
    const insert = db.query('INSERT INTO filler (text) VALUES (?)')
    for (let i = 0; i < 2_000; i++) insert.run(`row ${i} ${'x'.repeat(200)}`)
    db.close()
    // Scribble over the middle of the file: the b-tree pages there no longer make sense.
    const fd = openSync(dbPath, 'r+')
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(statSync(dbPath).size / 2 / 4096) * 4096)
    closeSync(fd)
    const { code, output } = await start({ DB_PATH: dbPath })
    expect(code).toBe(2)
    expect(output).toMatch(/damaged \(PRAGMA quick_check: .+\); restore it from a backup or move it aside/)
  })
})

describe('a busy port', () => {
  for (const variable of ['PORT', 'INGEST_PORT'] as const) {
    test(`${variable} taken: the error names the port and the variable; no -wal or -shm is left behind`, async () => {
      const dir = tempDir()
      const dbPath = join(dir, 'metrics.db')
      const squatter = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
      try {
        const { code, output } = await start({ DB_PATH: dbPath, [variable]: String(squatter.port) })
        expect(code).toBe(1)
        expect(output).toContain(`cannot listen on 127.0.0.1:${squatter.port}`)
        expect(output).toContain(`(${variable})`)
        expect(output).not.toContain("Elysia isn't running")
        expect(existsSync(dbPath)).toBe(true) // created, with its schema, and closed cleanly
        expect(readdirSync(dir).sort()).toEqual(['alerts.db', 'metrics.db'])
      } finally {
        squatter.stop(true)
      }
    })
  }
})

describe('queries yield to agents', () => {
  test('the gateway thread runs at GATEWAY_NICE (default 19), the alerts thread at 10, every other thread at the process priority', async () => {
    const dir = tempDir()
    const master = await spawnMaster({ DB_PATH: join(dir, 'metrics.db') })
    try {
      const niceOf = (task: string) => {
        const stat = readFileSync(`/proc/${master.proc.pid}/task/${task}/stat`, 'utf8')
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) // field 19 of stat: nice
      }
      const tasks = readdirSync(`/proc/${master.proc.pid}/task`)
      const workers = tasks.filter((task) => readFileSync(`/proc/${master.proc.pid}/task/${task}/comm`, 'utf8').trim() === 'Worker')
      // The ingest threads (INGEST_THREADS of them) and the writer at the process's priority, the alerts
      // thread at 10, the gateway at 19 (their own helper threads inherit it).
      const ingestThreads = loadConfig({ INGEST_THREADS: process.env.INGEST_THREADS }).ingestThreads
      expect(workers.map(niceOf).sort((a, b) => a - b)).toEqual([...Array<number>(ingestThreads + 1).fill(0), ALERTS_NICE, 19])
      expect(tasks.map(niceOf).filter((nice) => nice !== 19 && nice !== ALERTS_NICE && nice !== 0)).toEqual([])
    } finally {
      master.proc.kill('SIGTERM')
      await master.proc.exited
    }
  })
})
