/**
 * The byte format of history chunks (docs/history-chunks.md): columns of nullable integers, each
 * written as a presence mode, residuals of the order (raw, delta or delta of delta) that gives
 * the fewest bytes, zigzag varints, and zstd over the whole column when that is smaller (zstd, not
 * DEFLATE: 2 % more bytes here, but a 30-day read decompresses in a third of the time).
 * Integers stay exact: a value outside ±MAX_CODABLE is refused, and its span is kept as rows.
 */

/** |value| at most 2^49: a second-order residual, zigzagged, stays below 2^53. */
export const MAX_CODABLE = 2 ** 49

const ALL_PRESENT = 0
const ALL_NULL = 1
const BITMAP = 2

const RAW_BLOB = 0
const ZSTD_BLOB = 1
/** zstd's level: past 9 it packs these columns no smaller, only slower. */
const ZSTD_LEVEL = 9

/** Thrown when a column holds a value the format cannot carry exactly (a REAL sum after an overflow, say). */
export class UncodableValue extends Error {}

/** A growable byte buffer. */
export class ByteWriter {
  private bytes = new Uint8Array(256)
  length = 0

  byte(value: number): void {
    if (this.length === this.bytes.length) this.grow()
    this.bytes[this.length++] = value
  }

  /** An unsigned integer below 2^53, seven bits per byte; arithmetic, as bit operators stop at 32 bits. */
  varint(value: number): void {
    while (value >= 128) {
      this.byte((value % 128) + 128)
      value = Math.floor(value / 128)
    }
    this.byte(value)
  }

  append(other: Uint8Array): void {
    while (this.length + other.length > this.bytes.length) this.grow()
    this.bytes.set(other, this.length)
    this.length += other.length
  }

  finish(): Uint8Array {
    return this.bytes.subarray(0, this.length)
  }

  private grow(): void {
    const next = new Uint8Array(this.bytes.length * 2)
    next.set(this.bytes)
    this.bytes = next
  }
}

export class ByteReader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.offset >= this.bytes.length) throw new Error('history chunk ends early')
    return this.bytes[this.offset++]!
  }

  varint(): number {
    let value = 0
    let scale = 1
    for (;;) {
      const byte = this.byte()
      value += (byte & 127) * scale
      if (byte < 128) return value
      scale *= 128
    }
  }

  take(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) throw new Error('history chunk ends early')
    const slice = this.bytes.subarray(this.offset, this.offset + length)
    this.offset += length
    return slice
  }
}

const zigzag = (value: number) => (value >= 0 ? value * 2 : -value * 2 - 1)
const unzigzag = (value: number) => (value % 2 === 0 ? value / 2 : -(value + 1) / 2)

/** The residuals of `values` at `order`: 0 the values, 1 first differences, 2 differences of those. */
function residuals(values: readonly number[], order: number): number[] {
  const out = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (order === 0 || i === 0) out[i] = v
    else if (order === 1 || i === 1) out[i] = v - values[i - 1]!
    else out[i] = v - 2 * values[i - 1]! + values[i - 2]!
  }
  return out
}

function varintBytes(value: number): number {
  let bytes = 1
  while (value >= 128) {
    value = Math.floor(value / 128)
    bytes++
  }
  return bytes
}

/** Writes one column of nullable integers. */
export function writeColumn(out: ByteWriter, column: readonly (number | null)[]): void {
  const present: number[] = []
  for (const value of column) {
    if (value === null) continue
    if (!Number.isInteger(value) || Math.abs(value) > MAX_CODABLE) throw new UncodableValue(`history value ${value} is not a codable integer`)
    present.push(value)
  }
  const mode = present.length === column.length ? ALL_PRESENT : present.length === 0 ? ALL_NULL : BITMAP
  if (mode === ALL_NULL) return out.byte(ALL_NULL)
  let best: number[] = []
  let bestOrder = 0
  let bestBytes = Infinity
  for (let order = 0; order <= 2; order++) {
    const candidate = residuals(present, order).map(zigzag)
    const bytes = candidate.reduce((total, value) => total + varintBytes(value), 0)
    if (bytes < bestBytes) [best, bestOrder, bestBytes] = [candidate, order, bytes]
  }
  out.byte(mode | (bestOrder << 2))
  if (mode === BITMAP) {
    for (let i = 0; i < column.length; i += 8) {
      let bits = 0
      for (let bit = 0; bit < 8 && i + bit < column.length; bit++) if (column[i + bit] !== null) bits |= 1 << bit
      out.byte(bits)
    }
  }
  for (const value of best) out.varint(value)
}

/**
 * Reads one column of `length` nullable integers and appends those at [first, end) to `out`:
 * the column is decoded whole (each value follows from the ones before it), copied out once.
 */
export function readColumnInto(input: ByteReader, length: number, out: (number | null)[], first = 0, end = length): void {
  const values = scratch(length)
  decodeColumn(input, length, values)
  for (let i = first; i < end; i++) out.push(Number.isNaN(values[i]!) ? null : values[i]!)
}

let scratchValues = new Float64Array(8_640)
/** A reusable buffer for one column: reads decode into it and copy out what they keep. */
function scratch(length: number): Float64Array {
  if (scratchValues.length < length) scratchValues = new Float64Array(length)
  return scratchValues
}

/**
 * Decodes one column of `length` nullable integers into `out`, NaN standing for null: the hot
 * loop of every history read, with varints decoded inline rather than through method calls.
 */
export function decodeColumn(input: ByteReader, length: number, out: Float64Array): void {
  const header = input.byte()
  const mode = header & 3
  const order = header >> 2
  if (mode === ALL_NULL) {
    out.fill(NaN, 0, length)
    return
  }
  let presence: Uint8Array | undefined
  if (mode === BITMAP) presence = input.take(Math.ceil(length / 8))
  else if (mode !== ALL_PRESENT) throw new Error(`history chunk column mode ${mode} is unknown`)
  const bytes = input.bytes
  let offset = input.offset
  let previous = 0
  let previousDelta = 0
  let seen = 0
  for (let i = 0; i < length; i++) {
    if (presence && (presence[i >> 3]! & (1 << (i & 7))) === 0) {
      out[i] = NaN
      continue
    }
    let zigzagged = 0
    let scale = 1
    for (;;) {
      if (offset >= bytes.length) throw new Error('history chunk ends early')
      const byte = bytes[offset++]!
      zigzagged += (byte & 127) * scale
      if (byte < 128) break
      scale *= 128
    }
    const residual = unzigzag(zigzagged)
    let value: number
    if (order === 0 || seen === 0) value = residual
    else if (order === 1 || seen === 1) value = previous + residual
    else value = previous + previousDelta + residual
    previousDelta = value - previous
    previous = value
    out[i] = value
    seen++
  }
  input.offset = offset
}

/** A blob of columns: compressed when that is smaller, with a leading byte that says which. */
export function packBlob(columns: ByteWriter): Uint8Array {
  const plain = columns.finish()
  const packed = Bun.zstdCompressSync(plain as Uint8Array<ArrayBuffer>, { level: ZSTD_LEVEL })
  const out = new Uint8Array(1 + Math.min(plain.length, packed.length))
  if (packed.length < plain.length) {
    out[0] = ZSTD_BLOB
    out.set(packed, 1)
  } else {
    out[0] = RAW_BLOB
    out.set(plain, 1)
  }
  return out
}

export function unpackBlob(blob: Uint8Array): ByteReader {
  const body = blob.subarray(1)
  if (blob[0] === RAW_BLOB) return new ByteReader(body)
  if (blob[0] === ZSTD_BLOB) return new ByteReader(Bun.zstdDecompressSync(body as Uint8Array<ArrayBuffer>))
  throw new Error(`history chunk blob kind ${blob[0]} is unknown`)
}
