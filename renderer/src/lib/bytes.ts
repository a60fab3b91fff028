/**
 * Bytes for people: previews, hex dump lines, text in a chosen encoding, and the parsing of what a user types to
 * send. Pure functions, no DOM; the traffic view and its tests use them.
 *
 * The send parsers mirror the engine's (main/engine/send-encoding.ts) rule for rule and message for message, so that
 * the send box can explain bad input before anything leaves the renderer. The engine still checks everything: if
 * the two ever disagree, its "bad-send-input" answer is shown the same way.
 */

/** The dot Wireshark's panes use for a byte with no printable ASCII form; a middle dot reads better in a grid. */
export const NON_PRINTABLE = "·";

/**
 * How many bytes a row's preview shows at most (the grid cuts it further with an ellipsis): what the timeline asks
 * the engine for of each chunk (readTimeline's `preview`).
 */
export const PREVIEW_BYTES = 160;

/**
 * Printable ASCII (0x20..0x7e) as itself, anything else as "·": the timeline's one-line preview of a chunk, with an
 * ellipsis when it shows less than the chunk's `size` bytes (by default `data`'s length; more for a chunk read as a
 * preview, DataEvent.size).
 */
export function previewBytes(data: Uint8Array, max = PREVIEW_BYTES, size = data.length): string {
  const end = Math.min(data.length, max);
  let out = "";
  for (let i = 0; i < end; i++) {
    const b = data[i]!;
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : NON_PRINTABLE;
  }
  return end < size ? out + "…" : out;
}

/** Two lowercase hex digits per byte, separated by `separator`. */
export function toHex(data: Uint8Array, separator = " "): string {
  let out = "";
  for (let i = 0; i < data.length; i++) {
    if (i > 0) out += separator;
    out += HEX_PAIRS[data[i]!];
  }
  return out;
}

/** Each byte's two lowercase hex digits, by value. */
export const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export { HEX_LINE_BYTES, hexDumpLine, hexDumpLineCount, type HexLine } from "../../../preload/hex-dump.ts";

/** The encodings the Text tab offers. */
export type TextEncoding = "utf-8" | "latin-1" | "ascii";

/**
 * `data` as text in `encoding`. UTF-8 goes through TextDecoder (invalid sequences become U+FFFD). Latin-1 and ASCII
 * are mapped by hand: the WHATWG Encoding standard makes the labels "latin1" and "ascii" mean windows-1252, which
 * would turn 0x80..0x9f into curly quotes and the euro sign instead of what the bytes say. ASCII shows bytes above
 * 0x7f as U+FFFD. Control characters other than tab, LF and CR are shown as their Unicode control pictures (␀ ␛),
 * so that they are visible rather than silently dropped by the layout.
 */
export function decodeText(data: Uint8Array, encoding: TextEncoding): string {
  let text: string;
  if (encoding === "utf-8") {
    text = new TextDecoder("utf-8").decode(data);
  } else {
    const parts: string[] = [];
    const CHUNK = 8192;
    for (let i = 0; i < data.length; i += CHUNK) {
      const slice = data.subarray(i, i + CHUNK);
      parts.push(
        String.fromCharCode.apply(
          null,
          encoding === "ascii" ? Array.from(slice, (b) => (b < 0x80 ? b : 0xfffd)) : Array.from(slice),
        ),
      );
    }
    text = parts.join("");
  }
  return showControls(text);
}

/** Replaces C0 controls (but tab, LF, CR) and DEL with their control pictures (U+2400..U+2421). */
export function showControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => {
    const code = c.charCodeAt(0);
    return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
  });
}

/** `data` as printable ASCII with tab, LF and CR kept and every other byte as "·" (the conversation's ASCII mode). */
export function asciiWithNewlines(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    out += (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09 ? String.fromCharCode(b) : NON_PRINTABLE;
  }
  return out;
}

/** Where `needle` first occurs in `haystack`, or -1. An empty needle is found at 0. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0;
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Standard base64 of `data` (what the `send` command's "base64" encoding takes). */
export function toBase64(data: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 0x8000;
  for (let i = 0; i < data.length; i += CHUNK) {
    parts.push(String.fromCharCode.apply(null, Array.from(data.subarray(i, i + CHUNK))));
  }
  return btoa(parts.join(""));
}

/** `a` followed by `b`. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// --- what the user typed to send: one implementation, shared with the engine --------------------------------------

export { parseEscapedText, parseHex, type Parsed } from "../../../preload/send-input.ts";
