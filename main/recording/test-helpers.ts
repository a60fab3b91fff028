/**
 * For the recording tests: turns a capture this Wirescope wrote into the file an older one would have written with
 * the same records, so that the tests can check that such files are still read and continued in their own format.
 */
import * as fs from "node:fs";
import { checksumKind, checksumOf } from "./capture-checksum.ts";
import { HEADER_FIXED } from "./capture-format.ts";

/**
 * Rewrites `file` (a capture written by this version, with no "data again" record if `version` is 1) as format
 * `version`: the header says it, and every record carries that version's checksum (CRC-32 before version 3).
 */
export function rewriteAsVersion(file: string, version: number): void {
  const bytes = fs.readFileSync(file);
  bytes.writeUInt16LE(version, 8);
  const kind = checksumKind(version);
  for (let p = HEADER_FIXED + bytes.readUInt32LE(12); p < bytes.length;) {
    const length = bytes.readUInt32LE(p);
    bytes.writeUInt32LE(checksumOf(kind, bytes.subarray(p + 4, p + length)), p + length);
    p += 4 + length;
  }
  fs.writeFileSync(file, bytes);
}
