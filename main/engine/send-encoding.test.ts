/**
 * What a user types in the send box, turned into bytes — and the explanations for what can't be.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSendData, parseBase64, parseEscapedText, parseHex, SendEncodingError } from "./send-encoding.ts";

describe("text with escapes", () => {
  it("understands \\r \\n \\t \\0 \\\\ and \\xNN, and UTF-8 for the rest", () => {
    expect(parseEscapedText("PING\\r\\n")).toEqual(Buffer.from("PING\r\n"));
    expect(parseEscapedText("a\\tb\\0c\\\\d")).toEqual(Buffer.from("a\tb\0c\\d"));
    expect(parseEscapedText("\\x00\\xff\\x7F")).toEqual(Buffer.from([0, 255, 127]));
    expect(parseEscapedText("café")).toEqual(Buffer.from("café", "utf8"));
    expect(parseEscapedText("")).toEqual(Buffer.alloc(0));
  });

  it("explains a bad escape instead of sending it", () => {
    expect(() => parseEscapedText("abc\\q")).toThrow(/unknown escape '\\q' at position 4/);
    expect(() => parseEscapedText("\\xZZ")).toThrow(/needs two hex digits/);
    expect(() => parseEscapedText("\\x4")).toThrow(/needs two hex digits/);
    expect(() => parseEscapedText("end\\")).toThrow(SendEncodingError);
  });

  it("round-trips any bytes written as \\xNN escapes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = [...bytes].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
        expect(parseEscapedText(text)).toEqual(Buffer.from(bytes));
      }),
    );
  });
});

describe("hex", () => {
  it("takes pairs of digits, ignoring spaces, colons and 0x", () => {
    expect(parseHex("de ad BE ef")).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(parseHex("de:ad\n0xbe 0xef")).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  it("explains odd hex and non-hex characters", () => {
    expect(() => parseHex("abc")).toThrow(/odd number of hex digits \(3\)/);
    expect(() => parseHex("zz")).toThrow(/'z' is not a hex digit/);
    try {
      parseHex("abc");
    } catch (err) {
      expect((err as SendEncodingError).code).toBe("bad-send-input");
    }
  });
});

describe("base64", () => {
  it("decodes standard and URL-safe base64", () => {
    expect(parseBase64("aGVsbG8=")).toEqual(Buffer.from("hello"));
    expect(parseBase64("_-8")).toEqual(Buffer.from([0xff, 0xef]));
    expect(() => parseBase64("not base64!")).toThrow(/not base64/);
  });

  it("dispatches on the encoding", () => {
    expect(decodeSendData("41", "hex")).toEqual(Buffer.from("A"));
    expect(decodeSendData("A\\n", "text")).toEqual(Buffer.from("A\n"));
    expect(decodeSendData("QQ==", "base64")).toEqual(Buffer.from("A"));
  });
});
