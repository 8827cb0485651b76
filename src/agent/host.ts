import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'

/** What the collector reads of a machine. The real one is the live host; tests use a fixture tree. */
export interface Host {
  read(path: string): string | undefined
  /** whether a file, directory or link exists (e.g. sys/class/net/eth0/device) */
  exists(path: string): boolean
  list(dir: string): string[]
  statfs(mountPoint: string): { total: number; free: number; available: number } | undefined
  /** IPv4 address per interface, where known */
  addresses(): Map<string, string>
}

/** Files under `root` (default: the real /). Anything unreadable is simply absent. */
export function hostAt(root = '/'): Host {
  const at = (path: string) => join(root, path)
  return {
    read: (path) => {
      try {
        return readFileSync(at(path), 'utf8')
      } catch {
        return undefined
      }
    },
    exists: (path) => existsSync(at(path)),
    list: (dir) => {
      try {
        return readdirSync(at(dir))
      } catch {
        return []
      }
    },
    statfs: (mountPoint) => {
      try {
        const fs = statfsSync(at(mountPoint))
        return { total: fs.blocks * fs.bsize, free: fs.bfree * fs.bsize, available: fs.bavail * fs.bsize }
      } catch {
        return undefined
      }
    },
    addresses: () => {
      const found = new Map<string, string>()
      if (root !== '/') return found
      for (const [name, entries] of Object.entries(networkInterfaces())) {
        const v4 = entries?.find((entry) => entry.family === 'IPv4')
        if (v4) found.set(name, v4.address)
      }
      return found
    },
  }
}
