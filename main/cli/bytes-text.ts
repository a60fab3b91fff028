/**
 * Bytes as a terminal shows them: a one-line preview in the send box's own escapes (`\r \n \t \\ \xNN`, so that
 * what the CLI prints can be pasted back into `--send`), and an xxd-style hex dump for `--hex`.
 */

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

/** Bytes per hex dump line, as xxd and Wireshark. */
const LINE_BYTES = 16;

/**
 * The hex dump of `data`, one string per 16 bytes: "00000000  2a 31 0d 0a 24 34 0d 0a  50 49 4e 47 0d 0a        *1..$4..PING..".
 */
export function hexDump(data: Uint8Array): string[] {
  const lines: string[] = [];
  for (let start = 0; start < data.length; start += LINE_BYTES) {
    const row = data.subarray(start, start + LINE_BYTES);
    const cells = Array.from({ length: LINE_BYTES }, (_, i) => (i < row.length ? hex2(row[i]!) : "  "));
    const hex = `${cells.slice(0, 8).join(" ")}  ${cells.slice(8).join(" ")}`;
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${start.toString(16).padStart(8, "0")}  ${hex}  ${ascii}`);
  }
  return lines;
}
