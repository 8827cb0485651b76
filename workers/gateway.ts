/**
 * Gateway thread: the query port (API, /metrics, dashboard, Swagger) on read-only connections of
 * its own, so a dashboard reading megabytes never delays an agent's acknowledgement. What only the
 * DataHub knows reaches it as messages (src/gateway/messages.ts).
 */
import { Mailbox } from '../src/threads/mailbox'
import { lowerThreadPriority } from '../src/threads/priority'
import { startGateway, type Gateway } from '../src/gateway/gateway'
import type { GatewayToHub, HubToGateway } from '../src/gateway/messages'
import { isFault, type FaultMessage, type GatewayFault } from '../src/faults/hooks'

declare const self: Worker

/**
 * Queries yield to agents: this thread runs at a lower priority than the ones that acknowledge
 * agents, so when dashboards keep the machine busy the kernel runs those first (the bench: agents'
 * p99 acknowledgement with 20 readers pulling a 1,000-node list without pause stays within 1.5× of
 * none; at the same priority it doubled).
 */
const GATEWAY_NICE = 19
lowerThreadPriority(GATEWAY_NICE)

const outbox = new Mailbox<GatewayToHub>((batch) => self.postMessage(batch))
let gateway: Gateway | undefined

let faultHooks = false

self.onmessage = (event: MessageEvent<(HubToGateway | FaultMessage<GatewayFault>)[]>) => {
  for (const message of event.data) {
    if (!isFault<GatewayFault>(message)) handle(message)
    else if (faultHooks && message.fault.kind === 'reads-fail') gateway?.breakReads()
    else if (faultHooks) throw new Error('injected gateway crash')
  }
}

function handle(message: HubToGateway): void {
  switch (message.type) {
    case 'start':
      faultHooks = message.settings.faultHooks === true
      try {
        gateway = startGateway(message.settings, (out) => outbox.send(out))
        outbox.send({ type: 'listening', port: gateway.port })
      } catch (error) {
        outbox.send({ type: 'failed', message: (error as Error).message })
      }
      return
    case 'stop':
      void (gateway?.stop() ?? Promise.resolve()).then(() => outbox.send({ type: 'stopped' }))
      return
    default:
      gateway?.onHub(message)
  }
}
