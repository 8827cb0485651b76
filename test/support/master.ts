import { afterAll, beforeAll } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config'
import { startMaster, type Master, type MasterOptions } from '../../src/master'

export interface RunningMaster extends Master {
  api: string
  ingest: string
  dbPath: string
}

/**
 * A real master on random ports with its database in a fresh temp dir (or `dbPath`, to restart on
 * one). Its workers take fault-injection messages (master.faults).
 */
export async function startTestMaster(env: Record<string, string> = {}, dbPath?: string, options: MasterOptions = {}): Promise<RunningMaster> {
  const path = dbPath ?? join(mkdtempSync(join(tmpdir(), 'nmm-test-')), 'metrics.db')
  const config = loadConfig({ PORT: '0', INGEST_PORT: '0', DB_PATH: path, ...env })
  const master = await startMaster(config, { faultHooks: true, ...options })
  return {
    ...master,
    api: `http://127.0.0.1:${master.gatewayPort}`,
    ingest: `http://127.0.0.1:${master.ingestPort}`,
    dbPath: path,
  }
}

export function removeDb(dbPath: string): void {
  rmSync(join(dbPath, '..'), { recursive: true, force: true })
}

/** Reads the database file directly, the way an operator's sqlite3 would. */
export function readDb<T>(dbPath: string, sql: string, ...params: (string | number)[]): T[] {
  const db = new Database(dbPath, { readonly: true })
  try {
    // As the master's own connections do: a thread that is still letting go of the file (a Worker
    // ended at its stop deadline on a loaded machine) holds a lock for a moment, not an error.
    db.exec('PRAGMA busy_timeout = 5000')
    return db.query(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}

/** Posts a snapshot the way the AtlHyper agent does: gzipped JSON with X-Cluster-ID. */
export function postSnapshot(
  ingest: string,
  body: unknown,
  { clusterId, gzip = true, headers = {} }: { clusterId?: string; gzip?: boolean; headers?: Record<string, string> } = {},
): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return fetch(`${ingest}/agent/snapshot`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(clusterId ? { 'x-cluster-id': clusterId } : {}),
      ...headers,
    },
    body: gzip ? Bun.gzipSync(Buffer.from(text)) : text,
  })
}

export async function getJson<T = any>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url)
  return { status: response.status, body: (await response.json()) as T }
}

/**
 * One master for a whole describe block (or file): started before its tests, stopped and its
 * database removed after them. The returned object stands for the running master.
 */
export function useMaster(env: Record<string, string> = {}): RunningMaster {
  let running: RunningMaster | undefined
  beforeAll(async () => {
    running = await startTestMaster(env)
  })
  afterAll(async () => {
    await running?.stop()
    if (running) removeDb(running.dbPath)
  })
  return new Proxy({} as RunningMaster, {
    get: (_, key) => {
      if (!running) throw new Error('the master is started in beforeAll; use it inside tests')
      return running[key as keyof RunningMaster]
    },
  })
}

/** Stops a master a test started itself and removes its database; gives undefined to reset the variable. */
export async function disposeMaster(master: RunningMaster | undefined): Promise<undefined> {
  await master?.stop()
  if (master) removeDb(master.dbPath)
  return undefined
}
