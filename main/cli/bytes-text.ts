/**
 * Bytes as a terminal shows them: a one-line preview in the send box's own escapes (`\r \n \t \\ \xNN`, so that
 * what the CLI prints can be pasted back into `--send`), and an xxd-style hex dump for `--hex` (the workbench's
 * lines, preload/hex-dump.ts, with xxd's ".").
 */
import { hexDumpLine, hexDumpLineCount } from "../../preload/hex-dump.ts";

/** How many characters a preview shows before "…". */
export const PREVIEW_CHARS = 120;

const ESCAPES: Record<number, string> = { 0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t", 0x5c: "\\\\" };

/** Each byte's piece of a preview, as ASCII bytes, by value: made once, used for every preview. */
const PIECES: readonly Buffer[] = Array.from({ length: 256 }, (_, b) =>
  Buffer.from(ESCAPES[b] ?? (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${hex2(b)}`), "latin1"),
);

/** Where a preview is spelled out before it becomes one flat string (the longest piece, `\xNN`, is 4 bytes). */
const scratch = Buffer.alloc(PREVIEW_CHARS + 4);

/**
 * `data` escaped: printable ASCII as itself, `\r \n \t \\`, and `\xNN` for every other byte; cut with "…".
 * Spelled out as bytes and decoded once, not concatenated piece by piece: a busy proxy prints thousands a second.
 */
export function escapedPreview(data: Uint8Array, maxChars = PREVIEW_CHARS): string {
  const out = maxChars + 4 <= scratch.length ? scratch : Buffer.alloc(maxChars + 4);
  let used = 0;
  for (let i = 0; i < data.length; i++) {
    const piece = PIECES[data[i]!]!;
    if (used + piece.length > maxChars) return `${out.toString("latin1", 0, used)}…`;
    for (let j = 0; j < piece.length; j++) out[used + j] = piece[j]!;
    used += piece.length;
  }
  return out.toString("latin1", 0, used);
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, "0");
}

/**
 * The hex dump of `data`, one string per 16 bytes: "00000000  2a 31 0d 0a 24 34 0d 0a  50 49 4e 47 0d 0a        *1..$4..PING..".
 */
export function hexDump(data: Uint8Array): string[] {
  return Array.from({ length: hexDumpLineCount(data.length) }, (_, i) => {
    const { offset, hex, ascii } = hexDumpLine(data, i, ".");
    return `${offset}  ${hex}  ${ascii}`;
  });
}
