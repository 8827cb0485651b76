import { Mailbox } from '../threads/mailbox'
import { AlertsActor } from './actor'
import type { AlertsToHub, HubToAlerts } from './messages'

/** Runs the alerts actor on a Worker: messages in batches both ways, as every thread of the master. */
export function serveAlerts(self: Worker): void {
  const outbox = new Mailbox<AlertsToHub>((batch) => self.postMessage(batch))
  let actor: AlertsActor | undefined
  self.onmessage = (event: MessageEvent<HubToAlerts[]>) => {
    for (const message of event.data) {
      switch (message.type) {
        case 'start':
          try {
            actor = new AlertsActor(message.settings, (out) => outbox.send(out))
            outbox.send({ type: 'ready' })
          } catch (error) {
            outbox.send({ type: 'failed', message: `alerts: ${(error as Error).message}` })
          }
          break
        case 'stop':
          actor?.stop()
          actor = undefined
          outbox.send({ type: 'stopped' })
          outbox.flush()
          break
        default:
          actor?.handle(message)
      }
    }
  }
}
