/**
 * Turning what a user typed into bytes to send: text with escapes, hex, or base64. Shared by the workbench (through
 * the `send` command) and the CLI, so that "abc" as hex gets the same explanation everywhere.
 */
import {
  parseEscapedText as parseEscapedInput,
  parseHex as parseHexInput,
  type Parsed,
} from "../../preload/send-input.ts";
import { EngineError } from "./errors.ts";

/** Thrown for input that can't be turned into bytes; `message` says where and what to type instead. */
export class SendEncodingError extends EngineError {
  constructor(message: string) {
    super("bad-send-input", message);
  }
}

/** The shared parser's answer as bytes, or its sentence as a SendEncodingError. */
function bytesOf(parsed: Parsed): Buffer {
  if (!parsed.ok) throw new SendEncodingError(parsed.message);
  return Buffer.from(parsed.bytes.buffer, parsed.bytes.byteOffset, parsed.bytes.byteLength);
}

/**
 * Text with escapes: `\r \n \t \0 \\ \" \'` and `\xNN` (two hex digits) stand for one byte each; every other
 * character is encoded as UTF-8. A backslash followed by anything else is an error naming its position, so a typo
 * is never sent as something the user didn't mean. (preload/send-input.ts, shared with the workbench's send box.)
 */
export function parseEscapedText(text: string): Buffer {
  return bytesOf(parseEscapedInput(text));
}

/**
 * Hex digits, two per byte. Spaces, tabs, newlines, colons and a leading "0x" per group are ignored, so a hex dump
 * pasted from elsewhere works ("de ad be ef", "de:ad:be:ef", "0xde 0xad"). (preload/send-input.ts.)
 */
export function parseHex(text: string): Buffer {
  return bytesOf(parseHexInput(text));
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
