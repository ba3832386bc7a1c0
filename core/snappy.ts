// The uncompressed length a snappy block announces, read before decompressing
// so that a receiver can refuse a body that would expand past its limit.

/** The uncompressed length a snappy block announces in its preamble (a varint), or -1 when it has none. */
export function snappyLength(body: Uint8Array): number {
  let length = 0;
  for (let i = 0, scale = 1; i < 5 && i < body.length; i++, scale *= 128) {
    const b = body[i]!;
    length += (b & 0x7f) * scale;
    if (b < 0x80) return length;
  }
  return -1;
}
