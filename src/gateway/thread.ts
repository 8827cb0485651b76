import { ServerThread } from '../threads/server-thread'
import type { GatewayToHub, HubToGateway } from './messages'

const WORKER_URL = new URL('../../workers/gateway.ts', import.meta.url)

/** The main thread's handle on the gateway Worker (the query port). */
export const gatewayThread = () =>
  new ServerThread<HubToGateway, GatewayToHub>(WORKER_URL, 'gateway', (message) =>
    message.type === 'envelope' && message.envelope ? [message.envelope.buffer as ArrayBuffer] : [])
