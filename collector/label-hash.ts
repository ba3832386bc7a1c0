// The 64-bit hash of a series' raw label bytes that keys the remote_write
// series cache. It runs on every series of every request, and in JS (32-bit
// multiplies over DataView reads) it cost as much as snappy decompression, so
// it is a few WebAssembly instructions over 64-bit words instead, assembled
// here from opcodes: no build step, no binary blob without its source.
//
// hash(start, end) over memory[start, end): two lanes of
//   h = rotl(h ^ word64, r) * K   (16 bytes a round), then the tail bytes,
// folded into one 64-bit value; returns its low half and leaves the high
// half at memory[0..4). Callers copy their bytes to DATA_OFFSET and beyond.

const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i64Load: 0x29,
  i64Load8U: 0x31,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  i32GtU: 0x4b,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i64Mul: 0x7e,
  i64Xor: 0x85,
  i64ShrU: 0x88,
  i64Rotl: 0x89,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;
const VOID = 0x40;
const I32 = 0x7f;
const I64 = 0x7e;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const K1 = 0x9e3779b185ebca87n;
const K2 = 0xc2b2ae3d27d4eb4fn;
const K3 = 0x165667b19e3779f9n;

// Locals: 0 = i (the start, advanced), 1 = end, 2 = h1, 3 = h2.
const get = (i: number) => [OP.localGet, i];
const set = (i: number) => [OP.localSet, i];
const i64 = (v: bigint) => [OP.i64Const, ...sleb(v)];
const i32 = (v: number) => [OP.i32Const, ...sleb(BigInt(v))];

function lane(local: number, offset: number, rotate: number, k: bigint): number[] {
  return [...get(local), ...get(0), OP.i64Load, 0, offset, OP.i64Xor, ...i64(BigInt(rotate)), OP.i64Rotl, ...i64(k), OP.i64Mul, ...set(local)];
}

const body: number[] = [
  ...get(1), ...get(0), OP.i32Sub, OP.i64ExtendI32U, ...set(2),
  ...i64(0x2545f4914f6cdd1dn), ...set(3),
  // 16 bytes a round while they last
  OP.block, VOID, OP.loop, VOID,
  ...get(0), ...i32(16), OP.i32Add, ...get(1), OP.i32GtU, OP.brIf, 1,
  ...lane(2, 0, 31, K1),
  ...lane(3, 8, 27, K2),
  ...get(0), ...i32(16), OP.i32Add, ...set(0),
  OP.br, 0, OP.end, OP.end,
  // the tail, a byte at a time
  OP.block, VOID, OP.loop, VOID,
  ...get(0), ...get(1), OP.i32GeU, OP.brIf, 1,
  ...get(3), ...get(0), OP.i64Load8U, 0, 0, OP.i64Xor, ...i64(K3), OP.i64Mul, ...set(3),
  ...get(0), ...i32(1), OP.i32Add, ...set(0),
  OP.br, 0, OP.end, OP.end,
  // fold: h1 ^= rotl(h2, 29); h1 = (h1 ^ h1 >> 32) * K2; h1 ^= h1 >> 29
  ...get(2), ...get(3), ...i64(29n), OP.i64Rotl, OP.i64Xor, ...set(2),
  ...get(2), ...get(2), ...i64(32n), OP.i64ShrU, OP.i64Xor, ...i64(K2), OP.i64Mul, ...set(2),
  ...get(2), ...get(2), ...i64(29n), OP.i64ShrU, OP.i64Xor, ...set(2),
  ...i32(0), ...get(2), ...i64(32n), OP.i64ShrU, OP.i64Store32, 2, 0,
  ...get(2), OP.i32WrapI64,
  OP.end,
];

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Buffer.from(s, 'ascii')];
}

function assemble(): Uint8Array {
  const locals = [1, 2, I64];
  const code = [...uleb(locals.length + body.length), ...locals, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 2, I32, I32, 1, I32]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('hash'), 0x00, 0]),
    ...section(10, [1, ...code]),
  ]);
}

// The WebAssembly JS API as far as used here (tsconfig's lib has no DOM, where its types live).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Where callers put their bytes in the hasher's memory (the first 8 bytes hold the result's high half). */
export const DATA_OFFSET = 8;

const PAGE = 65536;

/** A label-section hasher over its own WebAssembly memory. */
export class LabelHasher {
  private readonly memory: WasmMemory;
  private readonly hashFn: (start: number, end: number) => number;
  private bytes: Uint8Array;
  private result: Int32Array;

  constructor() {
    const instance = new wasm.Instance(new wasm.Module(assemble()));
    this.memory = instance.exports['memory'] as WasmMemory;
    this.hashFn = instance.exports['hash'] as (start: number, end: number) => number;
    this.bytes = new Uint8Array(this.memory.buffer);
    this.result = new Int32Array(this.memory.buffer, 0, 2);
  }

  /** Copies `data` into the hasher's memory at DATA_OFFSET, growing it as needed. */
  load(data: Uint8Array): void {
    const needed = DATA_OFFSET + data.length;
    if (needed > this.bytes.length) {
      this.memory.grow(Math.ceil((needed - this.bytes.length) / PAGE));
      this.bytes = new Uint8Array(this.memory.buffer);
      this.result = new Int32Array(this.memory.buffer, 0, 2);
    }
    this.bytes.set(data, DATA_OFFSET);
  }

  /** Hash of loaded bytes [start, end) (offsets into the loaded data): the low half; the high half is in `check`. */
  hash(start: number, end: number): number {
    return this.hashFn(start + DATA_OFFSET, end + DATA_OFFSET);
  }

  /** The high half of the last hash. */
  get check(): number {
    return this.result[0]!;
  }
}
