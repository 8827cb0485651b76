import { ConfigError, loadConfig } from './config/config'
import { startMaster } from './master'

/** `bun run start`: the master with its configuration from the environment (DESIGN §7). */
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`configuration error: ${error.message}`)
  process.exit(2)
}

const master = await startMaster(config).catch((error: Error) => {
  console.error(`cannot start: ${error.message}`)
  process.exit(1)
})
console.log(
  `node-metrics master: API and Swagger on http://${config.host}:${master.gatewayPort}/swagger, ` +
    `agents on http://${config.host}:${master.ingestPort}/agent/snapshot, database ${config.dbPath}`,
)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: stopping — finishing in-flight requests and committing`)
    await master.stop()
    console.log('stopped cleanly')
    process.exit(0)
  })
}
