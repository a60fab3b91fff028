/**
 * Turning what a user typed into bytes to send: text with escapes, hex, or base64. Shared by the workbench (through
 * the `send` command) and the CLI, so that "abc" as hex gets the same explanation everywhere.
 */
import { EngineError } from "./errors.ts";

/** Thrown for input that can't be turned into bytes; `message` says where and what to type instead. */
export class SendEncodingError extends EngineError {
  constructor(message: string) {
    super("bad-input", message);
  }
}

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
 * Text with escapes: `\r \n \t \0 \\ \" \'` and `\xNN` (two hex digits) stand for one byte each; every other
 * character is encoded as UTF-8. A backslash followed by anything else is an error naming its position, so a typo
 * is never sent as something the user didn't mean.
 */
export function parseEscapedText(text: string): Buffer {
  const out: number[] = [];
  let plainFrom = 0;
  const flushPlain = (end: number) => {
    if (end > plainFrom) for (const b of Buffer.from(text.slice(plainFrom, end), "utf8")) out.push(b);
  };
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "\\") continue;
    flushPlain(i);
    const next = text[i + 1];
    if (next === undefined) {
      throw new SendEncodingError(`a lone backslash at the end (position ${i + 1}): write \\\\ for a backslash`);
    }
    if (next === "x") {
      const hex = text.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new SendEncodingError(
          `\\x at position ${i + 1} needs two hex digits (\\x00 to \\xff), got '${text.slice(i, i + 4)}'`,
        );
      }
      out.push(parseInt(hex, 16));
      i += 3;
    } else if (next in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[next]!);
      i += 1;
    } else {
      throw new SendEncodingError(
        `unknown escape '\\${next}' at position ${i + 1}: use \\r \\n \\t \\0 \\\\ or \\xNN (write \\\\ for a backslash)`,
      );
    }
    plainFrom = i + 1;
  }
  flushPlain(text.length);
  return Buffer.from(out);
}

/**
 * Hex digits, two per byte. Spaces, tabs, newlines, colons and a leading "0x" per group are ignored, so a hex dump
 * pasted from elsewhere works ("de ad be ef", "de:ad:be:ef", "0xde 0xad").
 */
export function parseHex(text: string): Buffer {
  const cleaned = text.replace(/0x/gi, "").replace(/[\s:]/g, "");
  const bad = /[^0-9a-fA-F]/.exec(cleaned);
  if (bad) throw new SendEncodingError(`'${bad[0]}' is not a hex digit: use 0-9 and a-f, two digits per byte`);
  if (cleaned.length % 2 === 1) {
    throw new SendEncodingError(
      `an odd number of hex digits (${cleaned.length}): each byte takes two digits, e.g. '0a' rather than 'a'`,
    );
  }
  return Buffer.from(cleaned, "hex");
}

/** Standard or URL-safe base64; padding optional. */
export function parseBase64(text: string): Buffer {
  const cleaned = text.replace(/\s/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(cleaned) || cleaned.replace(/=+$/, "").length % 4 === 1) {
    throw new SendEncodingError("this is not base64: use A-Z a-z 0-9 + / (or - _), with optional = padding");
  }
  return Buffer.from(cleaned, cleaned.includes("-") || cleaned.includes("_") ? "base64url" : "base64");
}

/** Decodes `data` as the user's chosen encoding. */
export function decodeSendData(data: string, encoding: "text" | "hex" | "base64"): Buffer {
  switch (encoding) {
    case "text":
      return parseEscapedText(data);
    case "hex":
      return parseHex(data);
    case "base64":
      return parseBase64(data);
  }
}
