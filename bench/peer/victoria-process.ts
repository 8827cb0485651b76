import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

/** The Debian package's binary; VICTORIA_METRICS_BIN points elsewhere (or at nothing, to see the skip). */
export const VICTORIA_BIN = process.env.VICTORIA_METRICS_BIN ?? '/usr/bin/victoria-metrics'

/**
 * The flags every run uses, and why:
 * - a retention of a year: back-dated history (30 days) must not fall outside it and be dropped;
 * - `-search.disableCache`: VictoriaMetrics' rollup-result cache would answer a repeated query from
 *   memory, and its docs advise against it while back-filling; the master has no such cache, so
 *   both sides read their storage on every query;
 * - `-search.latencyOffset=0s`: by default points of the last 30 s are left out of a range query
 *   as "maybe incomplete"; the master's history includes its newest bucket, so this one must too;
 * - no `-dedup.minScrapeInterval` (deduplication off, the default): every sample is kept;
 * - `-loggerLevel=ERROR`: its log goes to a file in the temp dir, shown only when it fails.
 */
export const VICTORIA_FLAGS = ['-retentionPeriod=1y', '-search.disableCache', '-search.latencyOffset=0s', '-loggerLevel=ERROR']

export interface Victoria {
  url: string
  pid: number
  /** makes everything acknowledged searchable now instead of within a second */
  flush(): Promise<void>
  /** merges every partition into one part, as background merges eventually do, and waits until no merge runs */
  merge(): Promise<void>
  /** peak resident memory so far */
  peakRssBytes(): number
  /** SIGTERM (it writes out what it buffers), wait for the exit; returns the bytes its data and index take on disk */
  stop(): Promise<{ dataBytes: number; indexBytes: number }>
}

function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

/** The Debian package's version: this build's binary reports none (`-version` prints nothing). */
export function victoriaVersion(): string {
  const query = Bun.spawnSync(['dpkg-query', '-W', '-f=${Version}', 'victoria-metrics'], { stderr: 'ignore' })
  return query.exitCode === 0 ? query.stdout.toString().trim() : 'unknown'
}

/** Apparent size of every file under `dir`. */
function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0
  let total = 0
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

/** Running instances and their temp dirs: a bench that fails half-way must not leave them behind. */
const running = new Map<Subprocess, string>()
process.on('exit', () => {
  for (const [proc, dir] of running) {
    proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

/** Starts VictoriaMetrics on a free port with its data in a new temp dir; undefined when the binary is not installed. */
export async function startVictoria(): Promise<Victoria | undefined> {
  if (!existsSync(VICTORIA_BIN)) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'nmm-bench-vm-'))
  const dataPath = join(dir, 'data')
  const logPath = join(dir, 'log')
  let proc: Subprocess | undefined
  let url = ''
  // The port is free when asked for, not necessarily when VictoriaMetrics binds it: a second try covers that race.
  for (let attempt = 0; attempt < 3 && !url; attempt++) {
    const address = `127.0.0.1:${freePort()}`
    proc = Bun.spawn([VICTORIA_BIN, `-storageDataPath=${dataPath}`, `-httpListenAddr=${address}`, ...VICTORIA_FLAGS], {
      stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(logPath), // it logs to stderr
    })
    running.set(proc, dir)
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && proc.exitCode === null) {
      const healthy = await fetch(`http://${address}/health`).then((response) => response.ok, () => false)
      // Healthy and still ours: had another server held the port, this one would have exited.
      if (healthy && proc.exitCode === null) {
        url = `http://${address}`
        break
      }
      await Bun.sleep(50)
    }
    if (!url) {
      proc.kill('SIGKILL')
      await proc.exited
      running.delete(proc)
    }
  }
  if (!url || !proc) {
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : ''
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`VictoriaMetrics did not start:\n${log}`)
  }
  const vm = proc
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`)
    const text = await response.text()
    if (!response.ok) throw new Error(`VictoriaMetrics ${path} answered ${response.status}: ${text.slice(0, 200)}`)
    return text
  }
  return {
    url,
    pid: vm.pid,
    flush: async () => void (await get('/internal/force_flush')),
    merge: async () => {
      await get('/internal/force_merge')
      // The forced merge runs in the background (its goroutine counts itself in vm_active_force_merges
      // once started): wait until neither it nor any other merge is active.
      const deadline = Date.now() + 600_000
      for (;;) {
        await Bun.sleep(200)
        const metrics = await get('/metrics')
        const active = [...metrics.matchAll(/^vm_active_(?:force_)?merges(?:\{[^}]*\})? (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0)
        if (active === 0) return
        if (Date.now() > deadline) throw new Error('VictoriaMetrics merges did not finish in 10 minutes')
      }
    },
    peakRssBytes: () => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${vm.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    stop: async () => {
      vm.kill('SIGTERM')
      await vm.exited
      running.delete(vm)
      // data/: the samples (parts per monthly partition); indexdb/: series names and labels to ids.
      // cache/ holds caches dumped at exit, not the data, so it is not counted.
      const bytes = { dataBytes: bytesUnder(join(dataPath, 'data')), indexBytes: bytesUnder(join(dataPath, 'indexdb')) }
      rmSync(dir, { recursive: true, force: true })
      return bytes
    },
  }
}
