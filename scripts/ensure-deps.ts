/**
 * Preloaded by `bun run start`, `bun test` and anything else Bun runs here (bunfig.toml): on a
 * fresh clone it installs the locked dependencies before the first import needs them, so the
 * README's two commands are the whole set-up once Bun is there. When they are in place it costs a
 * few file checks.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
const wanted = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })
const missing = wanted.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')))

if (missing.length > 0) {
  console.error(`installing the locked dependencies (missing: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`)
  const install = Bun.spawnSync(['bun', 'install', '--frozen-lockfile'], { cwd: root, stdout: 'inherit', stderr: 'inherit' })
  if (install.exitCode !== 0) {
    console.error('bun install --frozen-lockfile failed: see above (it needs the npm registry, or a filled Bun cache)')
    process.exit(1)
  }
}
