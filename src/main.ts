import { ConfigError, loadConfig, missingTokens, redact } from './config/config'
import { describeStore } from './storage/describe-store'
import { StartError, startMaster } from './master'

/** `bun run start`: the master with its configuration from the environment (docs/design.md §7). */
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`configuration error: ${error.message}`)
  process.exit(2)
}

const insecure = missingTokens(config)
if (insecure.length > 0) {
  console.warn(
    `WARNING: ALLOW_INSECURE is set and ${insecure.join(' and ')} ${insecure.length > 1 ? 'are' : 'is'} unset: ` +
      `anyone who reaches ${config.host} can ${insecure.includes('AGENT_TOKENS') ? 'write metrics' : 'read metrics'}` +
      `${insecure.length > 1 ? ' and read them' : ''}.`,
  )
}

const master = await startMaster(config).catch((error: Error) => {
  console.error(`cannot start: ${error.message}`)
  process.exit(error instanceof StartError ? error.exitCode : 1)
})
const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host // an IPv6 address
console.log(
  `node-metrics master: dashboard on http://${host}:${master.gatewayPort}/, ` +
    `API and Swagger on http://${host}:${master.gatewayPort}/swagger, ` +
    `agents on http://${host}:${master.ingestPort}/agent/snapshot`,
)
// Which engines hold what: an operator scaling out checks this line first.
console.log(
  `stores: ${describeStore(config.store)}; DataHub state ${config.redisUrl ? `shared on Redis ${redact(config.redisUrl)}` : 'in this process only (REDIS_URL unset)'}`,
)

/** A log line that cannot stop the stop: whoever read our output may be gone (a closed pipe). */
const say = (write: (line: string) => void, line: string) => {
  try {
    write(line)
  } catch {}
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    say(console.log, `${signal}: stopping — finishing in-flight requests and committing`)
    let code = 0
    try {
      const { problems } = await master.stop()
      for (const problem of problems) say(console.error, `at stop: ${problem}`)
      say(console.log, problems.length === 0 ? 'stopped cleanly' : 'stopped; everything acknowledged is committed')
    } catch (error) {
      say(console.error, `stop failed: ${(error as Error).message}`)
      code = 1
    }
    process.exit(code)
  })
}
