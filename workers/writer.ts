/** Writer thread entry point: the writer actor (src/writer/actor.ts) on this Worker. */
import { serveWriter } from '../src/writer/actor'

declare const self: Worker

serveWriter(self)
