import { ServerThread } from '../threads/server-thread'
import type { GatewayToHub, HubToGateway } from './messages'
import type { FaultMessage, GatewayFault } from '../faults/hooks'

const WORKER_URL = new URL('../../workers/gateway.ts', import.meta.url)

/** The main thread's handle on the gateway Worker (the query port). */
export const gatewayThread = () =>
  new ServerThread<HubToGateway | FaultMessage<GatewayFault>, GatewayToHub>(WORKER_URL, 'gateway', (message) =>
    message.type === 'envelope' && 'envelope' in message && message.envelope ? [message.envelope.buffer as ArrayBuffer] : [])
