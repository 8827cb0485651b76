/**
 * What Redis answers a connection's authentication, asked by hand. Bun's client, when Redis refuses
 * its handshake (a wrong password: WRONGPASS; none given: NOAUTH), closes the connection and reports
 * only "Connection closed", as it does for a server that is down: an operator would never learn that
 * the password is wrong. So, when a connection fails, redis-link.ts replays that step on a plain
 * socket (AUTH with the URL's credentials, then PING) and reports the first error Redis answers.
 *
 * Undefined when Redis cannot be reached, answers none of them with an error, does not answer within
 * `timeoutMs`, or the URL is not a TCP one (a Unix socket): the failure was something else then.
 */
export async function redisRefusal(url: string, timeoutMs: number): Promise<string | undefined> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return undefined
  const commands: string[][] = []
  const password = decodeURIComponent(parsed.password)
  const user = decodeURIComponent(parsed.username)
  // With the user named (`default` when the URL names none): a Redis without a password (`default` nopass) takes any then, as in Bun's handshake.
  if (password) commands.push(['AUTH', user || 'default', password])
  commands.push(['PING'])
  // RESP arrays of bulk strings; lengths in bytes (a password may not be ASCII).
  const request = commands.map((args) => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`).join('')

  return new Promise((resolve) => {
    let received = ''
    let settled = false
    let socket: { end(): void } | undefined
    const settle = (answer: string | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket?.end()
      resolve(answer)
    }
    const timer = setTimeout(() => settle(undefined), timeoutMs)
    Bun.connect({
      hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: Number(parsed.port || 6379),
      tls: parsed.protocol === 'rediss:',
      socket: {
        open: (opened) => void opened.write(request),
        // Each answer to these commands is one line: +OK, +PONG or -ERROR text.
        data(_, chunk) {
          received += chunk.toString()
          const lines = received.split('\r\n').slice(0, -1)
          const refusal = lines.find((line) => line.startsWith('-'))
          if (refusal) settle(refusal.slice(1).replace(/\.$/, ''))
          else if (lines.length >= commands.length) settle(undefined)
        },
        close: () => settle(undefined),
        error: () => settle(undefined),
        connectError: () => settle(undefined),
      },
    }).then(
      (opened) => (settled ? opened.end() : void (socket = opened)),
      () => settle(undefined),
    )
  })
}
