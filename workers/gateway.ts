/**
 * Gateway thread: the query port (API, /metrics, dashboard, Swagger) on read-only connections of
 * its own, so a dashboard reading megabytes never delays an agent's acknowledgement. What only the
 * DataHub knows reaches it as messages (src/gateway/messages.ts).
 */
import { Mailbox } from '../src/threads/mailbox'
import { setThreadNice } from '../src/threads/priority'
import { startGateway, type Gateway } from '../src/gateway/gateway'
import type { GatewayToHub, HubToGateway } from '../src/gateway/messages'
import { isFault, type FaultMessage, type GatewayFault } from '../src/faults/hooks'

declare const self: Worker

const outbox = new Mailbox<GatewayToHub>((batch) => self.postMessage(batch))
let gateway: Gateway | undefined

let faultHooks = false
/** What the DataHub sent before the start message was handled (its counters, cluster views). */
let early: HubToGateway[] = []

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
      // Queries yield to agents: at a lower priority than the threads that acknowledge agents, the
      // kernel runs those first when dashboards keep the machine busy (the bench: agents' p99 with 20
      // readers pulling a 1,000-node list without pause within 1.5× of none; at the same priority ×2).
      if (message.settings.nice !== 0 && !setThreadNice(message.settings.nice)) {
        console.warn(`GATEWAY_NICE: could not set the gateway thread's priority to ${message.settings.nice} here; it runs at the process's`)
      }
      startGateway(message.settings, (out) => outbox.send(out)).then(
        (started) => {
          gateway = started
          outbox.send({ type: 'listening', port: started.port })
          for (const held of early.splice(0)) handle(held)
        },
        (error) => outbox.send({ type: 'failed', message: (error as Error).message }),
      )
      return
    case 'stop':
      void (gateway?.stop() ?? Promise.resolve()).then(() => outbox.send({ type: 'stopped' }))
      return
    default:
      if (gateway) gateway.onHub(message)
      else early.push(message)
  }
}
