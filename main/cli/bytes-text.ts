/**
 * Bytes as a terminal shows them: a one-line preview in the send box's own escapes (`\r \n \t \\ \xNN`, so that
 * what the CLI prints can be pasted back into `--send`), and an xxd-style hex dump for `--hex` (the workbench's
 * lines, preload/hex-dump.ts, with xxd's ".").
 */
import { hexDumpLine, hexDumpLineCount } from "../../preload/hex-dump.ts";

/** How many characters a preview shows before "…". */
export const PREVIEW_CHARS = 120;

const ESCAPES: Record<number, string> = { 0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t", 0x5c: "\\\\" };

/** `data` escaped: printable ASCII as itself, `\r \n \t \\`, and `\xNN` for every other byte; cut with "…". */
export function escapedPreview(data: Uint8Array, maxChars = PREVIEW_CHARS): string {
  let out = "";
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    const piece = ESCAPES[b] ?? (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${hex2(b)}`);
    if (out.length + piece.length > maxChars) return `${out}…`;
    out += piece;
  }
  return out;
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
