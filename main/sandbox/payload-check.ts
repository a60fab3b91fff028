/**
 * Checks, on the main thread, the capture payload bytes a worker wrote for a log event (wire-log-entries.ts) before
 * the engine copies them into the capture as they are: the head must be exactly `{"text":<a JSON string>,"fields":
 * <a JSON object>` and the tail exactly what the engine would write after it for the spans it read from the same
 * entry. The worker's own encoder always writes such bytes; user code can post anything on its worker's port, and
 * bytes recorded unchecked could make its capture unreadable or carry spans and pairing the engine never checked.
 *
 * Byte scanners that allocate nothing: they run once per decoded message (a protocol may report hundreds of
 * thousands a second).
 */

/** The deepest nesting of arrays and objects a head's fields may have (jsonSafe cuts at 6; room for more). */
const MAX_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Whether `buf[start, end)` is `prefix`, a JSON string, `infix`, a JSON object, and nothing else (no whitespace
 * outside the values, as JSON.stringify writes them; inside, any JSON).
 */
export function isPayloadHead(buf: Uint8Array, start: number, end: number, prefix: Uint8Array, infix: Uint8Array) {
  let p = expect(buf, start, end, prefix);
  if (p < 0 || buf[p] !== QUOTE) return false;
  p = skipString(buf, p, end);
  if (p < 0) return false;
  p = expect(buf, p, end, infix);
  if (p < 0 || buf[p] !== 0x7b) return false;
  return skipValue(buf, p, end, 0) === end;
}

/** Where `bytes` end if `buf` holds them at `p` (before `end`), else -1. */
export function expect(buf: Uint8Array, p: number, end: number, bytes: Uint8Array): number {
  if (p < 0 || p + bytes.length > end) return -1;
  for (let i = 0; i < bytes.length; i++) if (buf[p + i] !== bytes[i]) return -1;
  return p + bytes.length;
}

/**
 * Where the decimal digits of `n` (a whole number >= 0, as JSON.stringify writes it) end if `buf` holds them at `p`,
 * else -1.
 */
export function expectCount(buf: Uint8Array, p: number, end: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return -1;
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  if (p + digits > end) return -1;
  for (let i = digits - 1, m = n; i >= 0; i--, m = Math.floor(m / 10)) {
    if (buf[p + i] !== 48 + (m % 10)) return -1;
  }
  return p + digits;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(buf: Uint8Array, p: number, end: number): number {
  while (p < end && isSpace(buf[p])) p++;
  return p;
}

/** Where the JSON value at `p` ends, or -1 when there is none there. */
function skipValue(buf: Uint8Array, p: number, end: number, depth: number): number {
  if (p >= end) return -1;
  const c = buf[p]!;
  if (c === QUOTE) return skipString(buf, p, end);
  if (c === 0x7b || c === 0x5b) return depth >= MAX_DEPTH ? -1 : skipContainer(buf, p, end, depth + 1);
  if (c === 0x74) return expectAscii(buf, p, end, "true");
  if (c === 0x66) return expectAscii(buf, p, end, "false");
  if (c === 0x6e) return expectAscii(buf, p, end, "null");
  return skipNumber(buf, p, end);
}

/** Where the object or array at `p` ends (its closing bracket included), or -1. */
function skipContainer(buf: Uint8Array, p: number, end: number, depth: number): number {
  const isObject = buf[p] === 0x7b;
  const close = isObject ? 0x7d : 0x5d;
  p = skipSpace(buf, p + 1, end);
  if (buf[p] === close) return p + 1;
  for (;;) {
    if (isObject) {
      if (buf[p] !== QUOTE) return -1;
      p = skipSpace(buf, skipString(buf, p, end), end);
      if (p < 0 || buf[p] !== COLON) return -1;
      p = skipSpace(buf, p + 1, end);
    }
    p = skipValue(buf, p, end, depth);
    if (p < 0) return -1;
    p = skipSpace(buf, p, end);
    if (buf[p] === close) return p + 1;
    if (buf[p] !== COMMA) return -1;
    p = skipSpace(buf, p + 1, end);
  }
}

/** Where the JSON string at `p` (its opening quote) ends, or -1. */
function skipString(buf: Uint8Array, p: number, end: number): number {
  if (p < 0) return -1;
  for (p += 1; p < end; p++) {
    const c = buf[p]!;
    if (c === QUOTE) return p + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) continue;
    const e = buf[++p];
    if (e === 0x75) {
      for (let i = 1; i <= 4; i++) if (!isHex(buf[p + i])) return -1;
      p += 4;
    } else if (!(e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e)) {
      if (!(e === 0x72 || e === 0x74)) return -1;
    }
  }
  return -1;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70));
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Where the JSON number at `p` ends, or -1. */
function skipNumber(buf: Uint8Array, p: number, end: number): number {
  if (buf[p] === 0x2d) p++;
  if (buf[p] === 48) p++;
  else if (isDigit(buf[p]) && buf[p] !== 48) while (p < end && isDigit(buf[p])) p++;
  else return -1;
  if (buf[p] === 0x2e) {
    if (!isDigit(buf[++p])) return -1;
    while (p < end && isDigit(buf[p])) p++;
  }
  if (buf[p] === 0x65 || buf[p] === 0x45) {
    p++;
    if (buf[p] === 0x2b || buf[p] === 0x2d) p++;
    if (!isDigit(buf[p])) return -1;
    while (p < end && isDigit(buf[p])) p++;
  }
  return p > end ? -1 : p;
}

function expectAscii(buf: Uint8Array, p: number, end: number, word: string): number {
  if (p + word.length > end) return -1;
  for (let i = 0; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return -1;
  return p + word.length;
}
