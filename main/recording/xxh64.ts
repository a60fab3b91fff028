/**
 * XXH64 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md, seed 0) of bytes in a shared WebAssembly
 * memory, computed in place by a few lines of WebAssembly: the checksum of capture format 3 (capture-format.ts). On
 * the machines this is built on it takes about 0.1 ns a byte where Node 20's zlib takes 0.25-0.3 for CRC-32, and a
 * few ns a call where zlib's binding takes about 250 (tests/bench/recording.ts prints both): it multiplies 64-bit
 * words in four independent lanes, where a CRC without carry-less multiplication (which WebAssembly lacks, and
 * which Node 20's zlib doesn't use here) goes through tables.
 *
 * The module imports its memory, so one compiled module serves every memory: an Xxh64 per memory, made where the
 * bytes are (the capture thread, once per batch buffer; xxh64Of, for readers, over its own scratch memory).
 */
import { alignedSharedMemory, copyIntoShared, type SharedMemory } from "./aligned-memory.ts";

/** The parts of WebAssembly used here: Node has them, but this project's lib (ES2023, no DOM) declares none. */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: object } }) => { exports: Record<string, unknown> };
};

// The spec's primes, as the signed 64-bit values WebAssembly's i64.const takes.
const P1 = BigInt.asIntN(64, 0x9e3779b185ebca87n);
const P2 = BigInt.asIntN(64, 0xc2b2ae3d27d4eb4fn);
const P3 = BigInt.asIntN(64, 0x165667b19e3779f9n);
const P4 = BigInt.asIntN(64, 0x85ebca77c2b2ae63n);
const P5 = BigInt.asIntN(64, 0x27d4eb2f165667c5n);

/** Signed LEB128, as WebAssembly encodes integer immediates. */
function sleb(value: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    const done = (value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

// Opcodes (https://webassembly.github.io/spec/core/binary/instructions.html).
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i64 = (v: bigint): number[] => [0x42, ...sleb(v)];
const i32 = (v: number): number[] => [0x41, ...sleb(BigInt(v))];
const I32_ADD = 0x6a;
const I32_LE_U = 0x4d;
const I32_LT_U = 0x49;
const I64_ADD = 0x7c;
const I64_MUL = 0x7e;
const I64_XOR = 0x85;
const I64_SHR_U = 0x88;
const I64_ROTL = 0x89;
const I64_EXTEND_I32_U = 0xad;
const loadI64 = (offset: number): number[] => [0x29, 3, offset];
const loadU32 = [0x35, 2, 0];
const loadU8 = [0x31, 0, 0];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = 0x05;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const I32_EQZ = 0x45;
const I32_SUB = 0x6b;
const loadU32AsI32 = [0x28, 2, 0];
const storeI32 = [0x36, 2, 0];
const CALL = 0x10;
const I32_WRAP_I64 = 0xa7;

// Locals: the parameters ptr and len (i32), then where the bytes end (i32), the lanes v1..v4 and h (i64).
const PTR = 0;
const LEN = 1;
const LAST = 2;
const V = [3, 4, 5, 6];
const H = 7;

/**
 * The spec's round(acc, input) = rotl(acc + input * P2, 31) * P1, leaving it on the stack: `acc` and `input` are
 * the instructions that push them (`acc` null for 0).
 */
const round = (acc: number[] | null, input: number[]): number[] => [
  ...(acc ?? []),
  ...input,
  ...i64(P2),
  I64_MUL,
  ...(acc === null ? [] : [I64_ADD]),
  ...i64(31n),
  I64_ROTL,
  ...i64(P1),
  I64_MUL,
];

/** h = (h ^ round(0, v)) * P1 + P4: merging lane v into h. */
const merge = (v: number): number[] => [
  ...get(H),
  ...round(null, get(v)),
  I64_XOR,
  ...i64(P1),
  I64_MUL,
  ...i64(P4),
  I64_ADD,
  ...set(H),
];

/** h = rotl(h, r) * m (+ a). */
const mix = (r: bigint, m: bigint, a: bigint | null): number[] => [
  ...get(H),
  ...i64(r),
  I64_ROTL,
  ...i64(m),
  I64_MUL,
  ...(a === null ? [] : [...i64(a), I64_ADD]),
  ...set(H),
];

/** h ^= h >> s. */
const shiftXor = (s: bigint): number[] => [...get(H), ...get(H), ...i64(s), I64_SHR_U, I64_XOR, ...set(H)];

/** The body of xxh64(ptr, len): the spec's steps, in its order (stripes, merge, length, tail, avalanche). */
function code(): number[] {
  const stripes = [
    // v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1 (seed 0)
    ...i64(BigInt.asIntN(64, P1 + P2)),
    ...set(V[0]!),
    ...i64(P2),
    ...set(V[1]!),
    ...i64(0n),
    ...set(V[2]!),
    ...i64(BigInt.asIntN(64, -P1)),
    ...set(V[3]!),
    ...LOOP,
    ...V.flatMap((v, lane) => [...round(get(v), [...get(PTR), ...loadI64(lane * 8)]), ...set(v)]),
    ...get(PTR),
    ...i32(32),
    I32_ADD,
    ...set(PTR),
    // while ptr + 32 <= last
    ...get(PTR),
    ...i32(32),
    I32_ADD,
    ...get(LAST),
    I32_LE_U,
    BR_IF,
    0,
    END,
    ...get(V[0]!),
    ...i64(1n),
    I64_ROTL,
    ...get(V[1]!),
    ...i64(7n),
    I64_ROTL,
    I64_ADD,
    ...get(V[2]!),
    ...i64(12n),
    I64_ROTL,
    I64_ADD,
    ...get(V[3]!),
    ...i64(18n),
    I64_ROTL,
    I64_ADD,
    ...set(H),
    ...V.flatMap(merge),
  ];
  return [
    // last = ptr + len
    ...get(PTR),
    ...get(LEN),
    I32_ADD,
    ...set(LAST),
    ...get(LEN),
    ...i32(32),
    I32_LT_U,
    ...IF,
    ...i64(P5),
    ...set(H),
    ELSE,
    ...stripes,
    END,
    // h += len
    ...get(H),
    ...get(LEN),
    I64_EXTEND_I32_U,
    I64_ADD,
    ...set(H),
    // 8 bytes at a time: h ^= round(0, word); h = rotl(h, 27) * P1 + P4
    ...BLOCK,
    ...LOOP,
    ...get(PTR),
    ...i32(8),
    I32_ADD,
    ...get(LAST),
    I32_LE_U,
    I32_EQZ,
    BR_IF,
    1,
    ...get(H),
    ...round(null, [...get(PTR), ...loadI64(0)]),
    I64_XOR,
    ...set(H),
    ...mix(27n, P1, P4),
    ...get(PTR),
    ...i32(8),
    I32_ADD,
    ...set(PTR),
    BR,
    0,
    END,
    END,
    // 4 bytes: h ^= u32 * P1; h = rotl(h, 23) * P2 + P3
    ...get(PTR),
    ...i32(4),
    I32_ADD,
    ...get(LAST),
    I32_LE_U,
    ...IF,
    ...get(H),
    ...get(PTR),
    ...loadU32,
    ...i64(P1),
    I64_MUL,
    I64_XOR,
    ...set(H),
    ...mix(23n, P2, P3),
    ...get(PTR),
    ...i32(4),
    I32_ADD,
    ...set(PTR),
    END,
    // each byte left: h ^= byte * P5; h = rotl(h, 11) * P1
    ...BLOCK,
    ...LOOP,
    ...get(PTR),
    ...get(LAST),
    I32_LT_U,
    I32_EQZ,
    BR_IF,
    1,
    ...get(H),
    ...get(PTR),
    ...loadU8,
    ...i64(P5),
    I64_MUL,
    I64_XOR,
    ...set(H),
    ...mix(11n, P1, null),
    ...get(PTR),
    ...i32(1),
    I32_ADD,
    ...set(PTR),
    BR,
    0,
    END,
    END,
    // avalanche
    ...shiftXor(33n),
    ...get(H),
    ...i64(P2),
    I64_MUL,
    ...set(H),
    ...shiftXor(29n),
    ...get(H),
    ...i64(P3),
    I64_MUL,
    ...set(H),
    ...shiftXor(32n),
    ...get(H),
    I32_WRAP_I64,
    END,
  ];
}

/** Unsigned LEB128, as WebAssembly encodes sizes and counts. */
function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    const byte = value & 0x7f;
    value >>>= 7;
    out.push(value === 0 ? byte : byte | 0x80);
  } while (value !== 0);
  return out;
}

const name = (s: string): number[] => [s.length, ...Buffer.from(s, "latin1")];
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];

// fill's locals: the parameters at and end (i32), then the record's length field (i32).
const AT = 0;
const END_AT = 1;
const LENGTH = 2;

/**
 * The body of fill(at, end): for each record of capture-format.ts from `at` to `end` (u32 L, then L bytes whose last
 * 4 are the checksum of the L - 4 before them), stores xxh64 of those bytes in its last 4, little-endian as the
 * format. One call for a region of records, where a call per record would cost more than hashing a small one.
 */
function fillCode(): number[] {
  return [
    ...BLOCK,
    ...LOOP,
    // while at < end
    ...get(AT),
    ...get(END_AT),
    I32_LT_U,
    I32_EQZ,
    BR_IF,
    1,
    ...get(AT),
    ...loadU32AsI32,
    ...set(LENGTH),
    // store at at + L: xxh64(at + 4, L - 4)
    ...get(AT),
    ...get(LENGTH),
    I32_ADD,
    ...get(AT),
    ...i32(4),
    I32_ADD,
    ...get(LENGTH),
    ...i32(4),
    I32_SUB,
    CALL,
    0,
    ...storeI32,
    // at += 4 + L
    ...get(AT),
    ...get(LENGTH),
    I32_ADD,
    ...i32(4),
    I32_ADD,
    ...set(AT),
    BR,
    0,
    END,
    END,
    END,
  ];
}

/**
 * The module: imports env.memory (shared, any size); exports xxh64(ptr: i32, len: i32) -> i32, the low 32 bits of
 * XXH64 (seed 0) of bytes ptr .. ptr + len, and fill(at: i32, end: i32), which stores it in each record's checksum.
 */
function moduleBytes(): Uint8Array {
  // xxh64's locals after its parameters: LAST (i32), then v1..v4 and h (i64); fill's: LENGTH (i32).
  const xxh64 = [2, 1, 0x7f, 5, 0x7e, ...code()];
  const fill = [1, 1, 0x7f, ...fillCode()];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x03, ...uleb(1), ...uleb(65536)]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name("xxh64"), 0x00, 0, ...name("fill"), 0x00, 1]),
    ...section(10, [2, ...uleb(xxh64.length), ...xxh64, ...uleb(fill.length), ...fill]),
  ]);
}

let compiled: object | null = null;

/** XXH64 over the bytes of one shared memory. Made once per memory by whoever checksums records in it. */
export class Xxh64 {
  private readonly run: (ptr: number, len: number) => number;
  private readonly fillRecords: (at: number, end: number) => void;

  constructor(memory: SharedMemory) {
    compiled ??= new WebAssembly.Module(moduleBytes());
    const { exports } = new WebAssembly.Instance(compiled, { env: { memory } });
    this.run = exports.xxh64 as (ptr: number, len: number) => number;
    this.fillRecords = exports.fill as (at: number, end: number) => void;
  }

  /** The low 32 bits of XXH64 (seed 0) of the memory's bytes `offset` .. `offset + length`, as an unsigned number. */
  hash(offset: number, length: number): number {
    return this.run(offset, length) >>> 0;
  }

  /**
   * Fills in the checksum of every record (capture-format.ts's layout) in the memory's bytes `start` .. `end`, which
   * must be whole records. Throws (a WebAssembly RuntimeError) if a record's length takes it out of the memory.
   */
  fill(start: number, end: number): void {
    this.fillRecords(start, end);
  }
}

/** A shared memory to copy bytes into and XXH64 over it. */
interface Scratch {
  bytes: Buffer;
  hasher: Xxh64;
}

/**
 * xxh64Of's scratch memory, kept for the process: it starts at SCRATCH_BYTES and is replaced by one twice as large
 * (or as large as the record) when a record does not fit, up to MAX_SCRATCH_BYTES. A shared memory is outside V8's
 * heap accounting, so one made per record would be freed only at some later full collection: reading a capture of
 * many large records would grow the process by gigabytes. Kept, the replaced ones are at most a handful.
 */
const SCRATCH_BYTES = 1024 * 1024;
const MAX_SCRATCH_BYTES = 64 * 1024 * 1024;
let scratch: Scratch | null = null;

function newScratch(bytes: number): Scratch {
  const memory = alignedSharedMemory(bytes);
  return { bytes: Buffer.from(memory.buffer), hasher: new Xxh64(memory) };
}

/** The scratch memory for `bytes` bytes: the kept one, grown if need be; past MAX_SCRATCH_BYTES, one of its own. */
function scratchFor(bytes: number): Scratch {
  if (scratch !== null && bytes <= scratch.bytes.byteLength) return scratch;
  if (bytes > MAX_SCRATCH_BYTES) return newScratch(bytes);
  const size = Math.min(MAX_SCRATCH_BYTES, Math.max(SCRATCH_BYTES, bytes, 2 * (scratch?.bytes.byteLength ?? 0)));
  return (scratch = newScratch(size));
}

/**
 * The low 32 bits of XXH64 (seed 0) of `bytes`, wherever they are: copied into a scratch memory first (a memcpy,
 * cheaper than the CRC it replaces). For readers, which check records in buffers of their own. Synchronous. Keeps
 * as much memory as the largest record it checked, within MAX_SCRATCH_BYTES (see scratchFor).
 */
export function xxh64Of(bytes: Uint8Array): number {
  const into = scratchFor(bytes.byteLength);
  copyIntoShared(into.bytes, bytes, 0);
  return into.hasher.hash(0, bytes.byteLength);
}
