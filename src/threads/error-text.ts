/**
 * The one line worth logging of a Worker's error event. Bun's message for an uncaught error holds
 * the source lines around it, then "error: <the message>".
 */
export function errorText(event: Event): string {
  const message = (event as ErrorEvent).message ?? String(event)
  return /^(?:error|\w*Error): (.*)$/m.exec(message)?.[1] ?? message.split('\n')[0]!
}
