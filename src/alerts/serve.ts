import { Mailbox } from '../threads/mailbox'
import { setThreadNice } from '../threads/priority'
import { AlertsActor } from './actor'
import type { AlertsToHub, HubToAlerts } from './messages'

/**
 * The alerts thread's nice value: below the threads that acknowledge agents (0), so judging never
 * takes their core when the machine is busy, and above the gateway's (GATEWAY_NICE, 19), so a
 * dashboard's reads do not hold up a notification.
 */
export const ALERTS_NICE = 10

/** Runs the alerts actor on a Worker: messages in batches both ways, as every thread of the master. */
export function serveAlerts(self: Worker): void {
  setThreadNice(ALERTS_NICE) // where it cannot be set, the thread runs at the process's priority
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
            outbox.send({ type: 'failed', message: `alerts: cannot start on ALERT_DB ${message.settings.dbPath}: ${(error as Error).message}` })
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
