/**
 * What a user typed to send, turned into bytes: text with escapes, or hex. One implementation for both sides: the
 * workbench checks the send box with it before sending, and the engine (main/engine/send-encoding.ts) decodes the
 * `send` command and the CLI's `--send` with it, so the same input gets the same bytes or the same explanation.
 * Pure and DOM/Node-free (TextEncoder only).
 */

/** The result of parsing input: the bytes, or a sentence saying what is wrong and what to type instead. */
export type Parsed = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

const SIMPLE_ESCAPES: Record<string, number> = {
  r: 0x0d,
  n: 0x0a,
  t: 0x09,
  "0": 0x00,
  "\\": 0x5c,
  '"': 0x22,
  "'": 0x27,
};

/**
 * Text with escapes, as the engine reads it: `\r \n \t \0 \\ \" \'` and `\xNN` are one byte each, every other
 * character is UTF-8. A backslash followed by anything else is an error naming its position (from 1).
 */
export function parseEscapedText(text: string): Parsed {
  const out: number[] = [];
  const utf8 = new TextEncoder();
  let plainFrom = 0;
  const flushPlain = (end: number) => {
    if (end > plainFrom) for (const b of utf8.encode(text.slice(plainFrom, end))) out.push(b);
  };
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "\\") continue;
    flushPlain(i);
    const next = text[i + 1];
    if (next === undefined) {
      return { ok: false, message: `a lone backslash at the end (position ${i + 1}): write \\\\ for a backslash` };
    }
    if (next === "x") {
      const hex = text.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        return {
          ok: false,
          message: `\\x at position ${i + 1} needs two hex digits (\\x00 to \\xff), got '${text.slice(i, i + 4)}'`,
        };
      }
      out.push(parseInt(hex, 16));
      i += 3;
    } else if (next in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[next]!);
      i += 1;
    } else {
      return {
        ok: false,
        message: `unknown escape '\\${next}' at position ${i + 1}: use \\r \\n \\t \\0 \\\\ or \\xNN (write \\\\ for a backslash)`,
      };
    }
    plainFrom = i + 1;
  }
  flushPlain(text.length);
  return { ok: true, bytes: Uint8Array.from(out) };
}

/**
 * Hex digits, two per byte, as the engine reads them: whitespace, colons and a "0x" per group are ignored, so
 * "de ad be ef", "de:ad:be:ef" and "0xde 0xad" all work.
 */
export function parseHex(text: string): Parsed {
  const cleaned = text.replace(/0x/gi, "").replace(/[\s:]/g, "");
  const bad = /[^0-9a-fA-F]/.exec(cleaned);
  if (bad) return { ok: false, message: `'${bad[0]}' is not a hex digit: use 0-9 and a-f, two digits per byte` };
  if (cleaned.length % 2 === 1) {
    return {
      ok: false,
      message: `an odd number of hex digits (${cleaned.length}): each byte takes two digits, e.g. '0a' rather than 'a'`,
    };
  }
  const bytes = new Uint8Array(cleaned.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(cleaned.slice(2 * i, 2 * i + 2), 16);
  return { ok: true, bytes };
}
