import type { Socket } from 'bun'

/**
 * A client fetch cannot be: one that sends its headers and part of its body and then waits, or
 * hangs up mid-body, or keeps a connection open and idle. Raw TCP, HTTP/1.1 written by hand.
 */
export interface RawClient {
  /** everything the server sent so far */
  received(): string
  /** the status code of the first answer, once there is one */
  status(): number | undefined
  /** resolves when the server (or we) closed the connection */
  closed: Promise<void>
  isClosed(): boolean
  write(data: string | Uint8Array): void
  /** hangs up */
  close(): void
}

export async function rawConnect(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url)
  let text = ''
  let closedFlag = false
  let markClosed!: () => void
  const closed = new Promise<void>((resolve) => (markClosed = resolve))
  const done = () => {
    closedFlag = true
    markClosed()
  }
  const socket: Socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data: (_, data) => void (text += new TextDecoder().decode(data)),
      close: done,
      end: done,
      error: done,
    },
  })
  return {
    received: () => text,
    status: () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text)
      return match ? Number(match[1]) : undefined
    },
    closed,
    isClosed: () => closedFlag,
    write: (data) => void socket.write(data),
    close: () => socket.terminate(),
  }
}

export interface SlowUpload {
  /** the Content-Length sent; undefined: chunked */
  declared?: number
  /** body bytes sent before the client goes quiet */
  send: number
  path?: string
  headers?: Record<string, string>
}

/** Starts an upload that sends its headers and `send` bytes of its body, then waits. */
export async function slowUpload(url: string, { declared, send, path = '/agent/snapshot', headers = {} }: SlowUpload): Promise<RawClient> {
  const client = await rawConnect(url)
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: ${new URL(url).host}`,
    'Content-Type: application/json',
    'X-Cluster-ID: slow',
    declared === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${declared}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  client.write(`${head.join('\r\n')}\r\n\r\n`)
  const body = ' '.repeat(send)
  if (declared !== undefined) client.write(body)
  else {
    // In chunks of 64 KiB, as a streaming client sends them.
    for (let offset = 0; offset < send; offset += 65_536) {
      const chunk = body.slice(offset, offset + 65_536)
      client.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    }
  }
  return client
}

/** Waits until `check` holds, polling; fails with `what` after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}
