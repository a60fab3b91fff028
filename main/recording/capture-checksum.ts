/**
 * The checksum that closes every record (capture-format.ts): CRC-32 (zlib's) in format versions 1 and 2, the low 32
 * bits of XXH64 (xxh64.ts) from version 3 on. Recording computes it on the capture thread, in place in the batch
 * buffers (capture-worker-main.ts); readers check it here, on the bytes they read.
 *
 * Why the change: on the machines this is built on Node 20's zlib computes CRC-32 at about 0.25 ns a byte (no
 * carry-less multiplication) and pays about 250 ns a call, which made it the largest part of what recording costs;
 * XXH64 in WebAssembly takes about 0.1 ns a byte and a few ns a call (tests/bench/recording.ts prints both). Both
 * catch what the checksum is there for, a torn or foreign tail, but for one in 2^32.
 */
import { crc32 } from "node:zlib";
import { VERSION_XXH64 } from "./capture-format.ts";
import { xxh64Of } from "./xxh64.ts";

/** Which checksum a file's records carry. */
export type ChecksumKind = "crc32" | "xxh64";

/** The checksum of the records of a file of format `version`. */
export function checksumKind(version: number): ChecksumKind {
  return version >= VERSION_XXH64 ? "xxh64" : "crc32";
}

/** The checksum `kind` of `bytes` (a record's bytes 4 .. 28+P), as the u32 the record stores. */
export function checksumOf(kind: ChecksumKind, bytes: Uint8Array): number {
  return kind === "xxh64" ? xxh64Of(bytes) : crc32(bytes);
}
