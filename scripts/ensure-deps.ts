/**
 * Run before the master by `bun run start` (package.json) and preloaded by `bun test`
 * (bunfig.toml): on a fresh clone it installs the locked dependencies before the first import
 * needs them, so the README's two commands are the whole set-up once Bun is there. When they are
 * in place it costs a few file checks.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
// The tests need the development tools too; the master alone does not (a production install has none).
const wanted = Object.keys({ ...manifest.dependencies, ...(process.env.NODE_ENV === 'test' ? manifest.devDependencies : {}) })
const missing = wanted.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')))

if (missing.length > 0 && process.env.NMM_DEPS_INSTALLED === '1') {
  // Installed once already and still not where this looks (packages hoisted to a parent workspace?): say so, do not loop.
  console.error(`dependencies still missing after bun install: ${missing.join(', ')}; run bun install and check node_modules`)
  process.exit(1)
}

if (missing.length > 0) {
  console.error(`installing the locked dependencies (missing: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`)
  const install = Bun.spawnSync(['bun', 'install', '--frozen-lockfile'], { cwd: root, stdout: 'inherit', stderr: 'inherit' })
  if (install.exitCode !== 0) {
    console.error('bun install --frozen-lockfile failed: see above (it needs the npm registry, or a filled Bun cache)')
    process.exit(1)
  }
  if (import.meta.main) process.exit(0) // run as a step of its own (`bun run start`): the next step starts afresh
  // Preloaded: this process already looked for the packages and would not see them now (its module
  // resolution remembers), nor would its Workers: run the same command again, once, exactly as it
  // was typed (`bun test …` or `bun run start`; the test runner's own argv names a test file).
  console.error('dependencies installed; running the command again')
  const typed = existsSync('/proc/self/cmdline') ? readFileSync('/proc/self/cmdline', 'utf8').split('\0').filter(Boolean).slice(1) : process.argv.slice(1)
  const again = Bun.spawn([process.execPath, ...typed], {
    cwd: process.cwd(),
    stdio: ['inherit', 'inherit', 'inherit'],
    env: { ...process.env, NMM_DEPS_INSTALLED: '1' },
  })
  // A stop meant for this process is meant for the command it now runs.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => again.kill(signal))
  process.exit(await again.exited)
}
