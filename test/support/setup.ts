import { setDefaultTimeout } from 'bun:test'

/**
 * Preloaded by `bun test` (bunfig.toml). Suites start real servers, Workers and processes; give
 * each test 30 s on a slow CI machine instead of bun's 5 s (bunfig has no key for it).
 */
setDefaultTimeout(30_000)
