/**
 * Byte helpers shared by every transport.
 */
import type { Bytes } from "./interfaces.ts";

/**
 * Throws the TypeError every transport throws when given something other than bytes: Twisted's transports
 * refuse text, and so do ours, so that an encoding is always chosen on purpose.
 */
export function checkBytes(data: unknown, what = "Data"): asserts data is Bytes {
  if (!(data instanceof Uint8Array)) {
    const got = typeof data === "string" ? "a string" : data === null ? "null" : typeof data;
    throw new TypeError(`${what} must be bytes (a Uint8Array or Buffer), not ${got}; encode text first.`);
  }
}
