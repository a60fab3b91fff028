/**
 * The wire encoding of browser mode (and of anything else that speaks the contract as text): JSON, except that bytes
 * survive. A `Uint8Array` (a Node `Buffer` included) anywhere in a value travels as `{"$bytes": "<base64>"}` and comes
 * back as a plain `Uint8Array`. Everything else follows JSON's rules (`undefined` properties vanish, `Date`s become
 * strings, `NaN` becomes null); the contract's shapes are JSON already, bytes apart.
 *
 * A plain object whose only key is `$bytes` (or `$$bytes`, `$$$bytes`, ...) would be mistaken for bytes, so encode
 * escapes it with one more `$` and decode takes it off again: any JSON value round-trips.
 *
 * Speed matters: `readTimeline` answers up to 10,000 events, most carrying data. Both directions walk the value once
 * and let the engine's native JSON do the text: encode copies only the objects on the way to some bytes (others are
 * shared as they are), and decode skips its walk when the text holds no `bytes"` key at all.
 *
 * Runs in the renderer (no Node globals are required) and in Node (where `Buffer` does the base64, much faster).
 */
import type { ErrorCode } from "./errors.ts";

/**
 * Nesting deeper than this is refused both ways: encoding, in practice only a cyclic value gets there; decoding,
 * only text made to exhaust the stack (JSON.parse takes any depth, the walk that revives bytes would not).
 */
export const MAX_DEPTH = 1000;

/** Thrown by `encode` and `decode` when a value cannot cross the wire; the message says which and where. */
export class CodecError extends Error {
  readonly code = "codec-error" satisfies ErrorCode;
  override readonly name = "CodecError";
}

/** Base64 both ways: how one runtime does it. */
export interface Base64 {
  encode(bytes: Uint8Array): string;
  decode(text: string): Uint8Array;
}

/** The part of Node's `Buffer` this module uses, looked up at run time so that the renderer needs no Node types. */
interface NodeBufferClass {
  from(data: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: "base64"): string };
  from(text: string, encoding: "base64"): Uint8Array;
}

/** Base64 through `btoa` / `atob`: what browsers have everywhere. Exported so that tests run it under Node too. */
export const portableBase64: Base64 = {
  encode(bytes) {
    // String.fromCharCode takes its arguments on the stack: chunks keep it far from the limit.
    const CHUNK = 0x8000;
    let binary = "";
    for (let i = 0; i < bytes.length; i += CHUNK) {
      // apply takes any array-like, a typed array included: no copy into a plain array.
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
    }
    return btoa(binary);
  },
  decode(text) {
    let binary: string;
    try {
      binary = atob(text);
    } catch {
      throw new CodecError("cannot decode: a $bytes value is not base64");
    }
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  },
};

/** Base64 as encode writes it (padded): Buffer skips what is not, so it is checked first, as atob does. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function nodeBase64(NodeBuffer: NodeBufferClass): Base64 {
  return {
    encode: (bytes) => NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
    decode(text) {
      if (text.length % 4 !== 0 || !BASE64.test(text))
        throw new CodecError("cannot decode: a $bytes value is not base64");
      // A copy into a plain Uint8Array: the receiver gets neither a Buffer nor a view of Node's shared pool.
      return new Uint8Array(NodeBuffer.from(text, "base64"));
    },
  };
}

/** The base64 this runtime uses: Node's `Buffer` when there is one, else `btoa` / `atob`. */
export const base64: Base64 = (() => {
  const NodeBuffer = (globalThis as { Buffer?: NodeBufferClass }).Buffer;
  return NodeBuffer ? nodeBase64(NodeBuffer) : portableBase64;
})();

const BYTES_KEY = "$bytes";
/** `$bytes`, `$$bytes`, ...: the keys an object must be escaped for when it has no other. */
const BYTES_LIKE_KEY = /^\$+bytes$/;

/**
 * Encodes `value` as JSON text, bytes as `{"$bytes": base64}` at any depth. Throws a CodecError for what JSON cannot
 * hold: a cyclic value (the message gives the path that loops), a BigInt, or nothing at all (`undefined`, a function).
 * `codec` is this runtime's base64 unless a test picks another.
 */
export function encode(value: unknown, codec: Base64 = base64): string {
  const path: object[] = [];
  let text: string | undefined;
  try {
    text = JSON.stringify(replaceBytes(value, path, codec));
  } catch (err) {
    if (err instanceof CodecError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    // Subtrees without bytes are shared as they are, so JSON.stringify is the one that finds their cycles.
    if (/circular/i.test(message)) throw new CodecError(`cannot encode a cyclic value: ${message}`);
    throw new CodecError(`cannot encode: ${message}`);
  }
  if (text === undefined) throw new CodecError(`cannot encode ${typeof value}: JSON has no such value`);
  return text;
}

/**
 * Returns `value` with bytes replaced by their wire form, copying only the objects and arrays that lead to a
 * replacement. `path` holds the objects being visited, outermost first (to name a cycle when one is found).
 */
function replaceBytes(value: unknown, path: object[], codec: Base64): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return { [BYTES_KEY]: codec.encode(value) };
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  if (path.length >= MAX_DEPTH) throw depthError(path, value);
  path.push(value);
  let result: unknown = value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const replaced = replaceBytes(item, path, codec);
      if (replaced !== item) (copy ??= value.slice())[i] = replaced;
    }
    if (copy) result = copy;
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | undefined;
    for (const key of keys) {
      const item = record[key];
      const replaced = replaceBytes(item, path, codec);
      if (replaced !== item) (copy ??= { ...record })[key] = replaced;
    }
    const only = keys.length === 1 ? keys[0]! : undefined;
    if (only !== undefined && BYTES_LIKE_KEY.test(only)) result = { [`$${only}`]: (copy ?? record)[only] };
    else if (copy) result = copy;
  }
  path.pop();
  return result;
}

/**
 * The error for a value nested past MAX_DEPTH. Nearly always a cycle: then it names where the loop starts and the
 * way round it, from the first object on the path that comes back.
 */
function depthError(path: object[], value: object): CodecError {
  const objects = [...path, value];
  for (let start = 0; start < objects.length; start++) {
    const end = objects.indexOf(objects[start]!, start + 1);
    if (end === -1) continue;
    const at = `value${keysAlong(objects, 0, start)}`;
    return new CodecError(`cannot encode a cyclic value: ${at}${keysAlong(objects, start, end)} is ${at} again`);
  }
  return new CodecError(`cannot encode: the value is nested more than ${MAX_DEPTH} levels deep`);
}

/** The keys leading from objects[from] to objects[to], written as a path (`.self.back[0]`). */
function keysAlong(objects: object[], from: number, to: number): string {
  let keys = "";
  for (let i = from; i < to; i++) {
    const parent = objects[i] as Record<string, unknown>;
    const key = Object.keys(parent).find((k) => parent[k] === objects[i + 1]) ?? "?";
    keys += Array.isArray(parent) ? `[${key}]` : `.${key}`;
  }
  return keys;
}

/**
 * Decodes text made by `encode` (or any JSON): `{"$bytes": base64}` becomes a Uint8Array wherever it is. Throws a
 * CodecError when the text is not JSON, a `$bytes` value is not base64, or bytes are to be revived in a value nested
 * more than MAX_DEPTH levels deep. `codec` as for `encode`.
 */
export function decode(text: string, codec: Base64 = base64): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CodecError(`cannot decode: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  // Every key made by encode ends in `bytes"`; text without one has nothing to revive.
  return text.includes('bytes"') ? reviveBytes(value, codec, 0) : value;
}

/**
 * Replaces `{"$bytes": base64}` in place (the tree is fresh from JSON.parse) and takes one `$` off escaped keys.
 * `depth` is how many objects and arrays enclose `value`.
 */
function reviveBytes(value: unknown, codec: Base64, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    checkDepth(depth);
    for (let i = 0; i < value.length; i++) value[i] = reviveBytes(value[i], codec, depth + 1);
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const only = keys[0]!;
    const inner = record[only];
    // Bytes are a leaf for encode, which counts no depth for them: nor does this.
    if (only === BYTES_KEY && typeof inner === "string") return codec.decode(inner);
    checkDepth(depth);
    if (BYTES_LIKE_KEY.test(only) && only !== BYTES_KEY)
      return { [only.slice(1)]: reviveBytes(inner, codec, depth + 1) };
  }
  checkDepth(depth);
  for (const key of keys) record[key] = reviveBytes(record[key], codec, depth + 1);
  return record;
}

/** Refuses an object or array with `depth` others around it when encode would have (MAX_DEPTH). */
function checkDepth(depth: number): void {
  if (depth >= MAX_DEPTH) {
    throw new CodecError(`cannot decode: the value is nested more than ${MAX_DEPTH} levels deep (the limit)`);
  }
}
