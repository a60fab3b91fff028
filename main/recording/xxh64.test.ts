/**
 * XXH64 in WebAssembly against the reference implementation: the low 32 bits of what libxxhash 0.8.1 (Debian's,
 * through its XXH64 with seed 0) gives for the same bytes, over every path of the algorithm (under 4 bytes, 4-byte
 * and 8-byte tails, whole 32-byte stripes, both), in place in a shared memory at any offset, record by record as
 * the capture thread fills them in, and through xxh64Of.
 */
import { describe, expect, it } from "vitest";
import { alignedSharedMemory } from "./aligned-memory.ts";
import { Xxh64, xxh64Of } from "./xxh64.ts";

/** The bytes the vectors are of: byte i is (7i + 3) & 0xff. */
function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);
}

/** [length of pattern(), XXH64 seed 0] from libxxhash 0.8.1. */
const VECTORS: [number, bigint][] = [
  [0, 0xef46db3751d8e999n],
  [1, 0x1f25c8d0bc1f4bb6n],
  [3, 0x31d2363f52e564c9n],
  [4, 0x9bb64b7d66ee9fdan],
  [5, 0xc7608efddb7051fen],
  [7, 0x9a7b149959ce60d8n],
  [8, 0xdab99d95c6f90092n],
  [9, 0x170bb6bf975b4c02n],
  [15, 0x1b47cb8243cc8e32n],
  [16, 0x434850232b787be2n],
  [31, 0xa2aa5f33cc4a6119n],
  [32, 0x23c3c17ef790fd97n],
  [33, 0x50a7cfc7ba588784n],
  [39, 0x880bbeea606e4b37n],
  [63, 0x5e3e54b431c7493cn],
  [64, 0x0eb64b3ef6eeb01fn],
  [65, 0xa383b724b2bd12f1n],
  [100, 0xa61f8d4c170fe531n],
  [1000, 0x5f235fa033f1a3fbn],
  [1100, 0xb5ac606e7b0cd96en],
];

const low32 = (h: bigint): number => Number(h & 0xffff_ffffn);

describe("XXH64", () => {
  it("matches the reference implementation on every path of the algorithm, through xxh64Of", () => {
    expect(VECTORS.map(([n]) => xxh64Of(pattern(n)))).toEqual(VECTORS.map(([, h]) => low32(h)));
  });

  it("matches the spec's strings", () => {
    const text = (s: string): number => xxh64Of(Buffer.from(s, "latin1"));
    expect(text("")).toBe(low32(0xef46db3751d8e999n));
    expect(text("a")).toBe(low32(0xd24ec4f1a98c6e5bn));
    expect(text("abc")).toBe(low32(0x44bc2cf5ad770999n));
    expect(text("Nobody inspects the spammish repetition")).toBe(low32(0xfbcea83c8a378bf1n));
  });

  it("hashes in place in a shared memory, at any offset, reading nothing around the bytes", () => {
    const memory = alignedSharedMemory(1);
    const bytes = Buffer.from(memory.buffer);
    const xxh64 = new Xxh64(memory);
    for (const offset of [0, 1, 3, 4093, 60_000]) {
      bytes.fill(0xaa);
      bytes.set(pattern(1100), offset);
      expect(VECTORS.map(([n]) => xxh64.hash(offset, n))).toEqual(VECTORS.map(([, h]) => low32(h)));
    }
  });

  it("fills in the checksum of every record of a region, and nothing else", () => {
    const memory = alignedSharedMemory(1);
    const bytes = Buffer.from(memory.buffer);
    bytes.fill(0xaa);
    const start = 7;
    let p = start;
    for (const [n] of VECTORS) {
      bytes.writeUInt32LE(n + 4, p); // L: the bytes, then the checksum
      bytes.set(pattern(n), p + 4);
      p += 4 + n + 4;
    }
    new Xxh64(memory).fill(start, p);
    const sums: number[] = [];
    for (let at = start; at < p; at += 4 + bytes.readUInt32LE(at)) {
      sums.push(bytes.readUInt32LE(at + bytes.readUInt32LE(at)));
    }
    expect(sums).toEqual(VECTORS.map(([, h]) => low32(h)));
    expect(bytes.subarray(0, start).every((b) => b === 0xaa) && bytes.subarray(p).every((b) => b === 0xaa)).toBe(true);
  });

  it("xxh64Of takes bytes larger than its scratch memory, and any view of a buffer", () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 5).fill(9);
    big.set(pattern(1100), big.length - 1100);
    const view = big.subarray(big.length - 1100);
    expect(xxh64Of(view)).toBe(low32(0xb5ac606e7b0cd96en));
    expect(xxh64Of(big)).toBe(xxh64Of(Buffer.from(big)));
    expect(xxh64Of(pattern(100))).toBe(low32(0xa61f8d4c170fe531n)); // back in the scratch memory
  });

  it("xxh64Of checking many records larger than 1 MiB keeps its memory, not one per record", () => {
    const record = new Uint8Array(2 * 1024 * 1024 + 3).fill(7);
    const first = xxh64Of(record);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) expect(xxh64Of(record)).toBe(first);
    // A memory per record would hold 600 MiB until some full collection; the kept one holds 4 MiB.
    expect((process.memoryUsage().rss - before) / 2 ** 20).toBeLessThan(100);
  });
});
