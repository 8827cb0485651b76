/** Alerts thread entry point: the alerts actor (src/alerts/actor.ts) on this Worker. */
import { serveAlerts } from '../src/alerts/serve'

declare const self: Worker

serveAlerts(self)
