/**
 * The hex dump of bytes, laid out as `xxd` and Wireshark's bytes pane do, one line at a time: the workbench's Hex
 * tab (renderer/src/lib/bytes.ts, which draws only the lines in view) and the CLI's `--hex` (main/cli/bytes-text.ts)
 * both make their lines here. Pure: no DOM, no Node.
 */

/** Bytes per hex dump line, as `xxd` and Wireshark's bytes pane. */
export const HEX_LINE_BYTES = 16;

/** One line of a hex dump. */
export interface HexLine {
  /** The offset of its first byte, 8 hex digits. */
  offset: string;
  /** 16 bytes as hex pairs, an extra space after the eighth, padded so the ASCII column lines up. */
  hex: string;
  /** The same bytes as printable ASCII, or the non-printable mark. */
  ascii: string;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * Line `line` (from 0) of the hex dump of `data`. A byte with no printable ASCII form (outside 0x20..0x7e) shows as
 * `nonPrintable`: the workbench's middle dot, which reads better in a grid, unless the caller wants xxd's "." (a
 * terminal). A line past the end has no bytes: blank hex, empty ASCII.
 */
export function hexDumpLine(data: Uint8Array, line: number, nonPrintable = "·"): HexLine {
  const start = line * HEX_LINE_BYTES;
  const end = Math.min(data.length, start + HEX_LINE_BYTES);
  let hex = "";
  let ascii = "";
  for (let i = start; i < start + HEX_LINE_BYTES; i++) {
    if (i > start) hex += i - start === 8 ? "  " : " ";
    if (i < end) {
      const b = data[i]!;
      hex += HEX[b];
      ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : nonPrintable;
    } else {
      hex += "  ";
    }
  }
  return { offset: start.toString(16).padStart(8, "0"), hex, ascii };
}

/** How many lines the hex dump of `length` bytes has. */
export function hexDumpLineCount(length: number): number {
  return Math.ceil(length / HEX_LINE_BYTES);
}
