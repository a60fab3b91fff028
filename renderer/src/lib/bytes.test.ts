import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  asciiWithNewlines,
  decodeText,
  hexDumpLine,
  hexDumpLineCount,
  indexOfBytes,
  parseEscapedText,
  parseHex,
  previewBytes,
  toBase64,
  toHex,
} from "./bytes.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => new TextEncoder().encode(s);

describe("previews", () => {
  it("shows printable ASCII and a dot for the rest, cut with an ellipsis", () => {
    expect(previewBytes(ascii("PING\r\n"))).toBe("PING··");
    expect(previewBytes(bytes(0x00, 0x41, 0x7f, 0xff))).toBe("·A··");
    expect(previewBytes(ascii("abcdef"), 3)).toBe("abc…");
  });

  it("keeps newlines in the conversation's ASCII", () => {
    expect(asciiWithNewlines(ascii("a\r\nb\t\x00"))).toBe("a\r\nb\t·");
  });
});

describe("hex dump", () => {
  it("lays out offset, 16 bytes with a gap after eight, and ASCII", () => {
    const data = ascii("GET / HTTP/1.1\r\nHost: x\r\n");
    expect(hexDumpLineCount(data.length)).toBe(2);
    expect(hexDumpLine(data, 0)).toEqual({
      offset: "00000000",
      hex: "47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a",
      ascii: "GET / HTTP/1.1··",
    });
    const second = hexDumpLine(data, 1);
    expect(second.offset).toBe("00000010");
    expect(second.ascii).toBe("Host: x··");
    // Padded so that every line's ASCII column starts at the same place.
    expect(second.hex.length).toBe(hexDumpLine(data, 0).hex.length);
    expect(second.hex.startsWith("48 6f 73 74 3a 20 78 0d  0a")).toBe(true);
  });

  it("has no lines for no bytes", () => {
    expect(hexDumpLineCount(0)).toBe(0);
    expect(toHex(bytes(0xde, 0xad))).toBe("de ad");
  });
});

describe("text in an encoding", () => {
  it("decodes UTF-8, Latin-1 and ASCII as the bytes say", () => {
    const data = bytes(0x63, 0x61, 0x66, 0xc3, 0xa9, 0x80);
    expect(decodeText(data, "utf-8")).toBe("café\ufffd");
    // Real Latin-1: 0x80 is U+0080, not windows-1252's euro sign.
    expect(decodeText(data, "latin-1")).toBe("cafÃ©\u0080");
    expect(decodeText(data, "ascii")).toBe("caf\ufffd\ufffd\ufffd");
  });

  it("shows control characters as control pictures, keeping tab and line breaks", () => {
    expect(decodeText(bytes(0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x7f), "latin-1")).toBe("␀\t\n\r␛␡");
  });
});

describe("searching bytes", () => {
  it("finds a sequence anywhere, or says -1", () => {
    expect(indexOfBytes(ascii("xxdeadxx"), ascii("dead"))).toBe(2);
    expect(indexOfBytes(bytes(1, 2, 1, 2, 3), bytes(1, 2, 3))).toBe(2);
    expect(indexOfBytes(bytes(1, 2), bytes(2, 3))).toBe(-1);
    expect(indexOfBytes(bytes(1), bytes())).toBe(0);
  });

  it("agrees with a naive search", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), (hay, needle) => {
        const text = (a: Uint8Array) => Array.from(a, (b) => String.fromCharCode(b)).join("");
        expect(indexOfBytes(hay, needle)).toBe(text(hay).indexOf(text(needle)));
      }),
    );
  });
});

describe("base64", () => {
  it("encodes any bytes as standard base64", () => {
    expect(toBase64(ascii("hello"))).toBe("aGVsbG8=");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
        expect(Uint8Array.from(atob(toBase64(data)), (c) => c.charCodeAt(0))).toEqual(data);
      }),
    );
  });
});

describe("what the user typed", () => {
  it("reads escapes as single bytes and the rest as UTF-8", () => {
    const parsed = parseEscapedText("hi\\r\\n\\t\\0\\\\\\x41é");
    expect(parsed).toEqual({ ok: true, bytes: bytes(0x68, 0x69, 13, 10, 9, 0, 0x5c, 0x41, 0xc3, 0xa9) });
  });

  it("explains a bad escape with its position, and sends nothing", () => {
    expect(parseEscapedText("ab\\q")).toEqual({
      ok: false,
      message: "unknown escape '\\q' at position 3: use \\r \\n \\t \\0 \\\\ or \\xNN (write \\\\ for a backslash)",
    });
    expect(parseEscapedText("x\\x4")).toEqual({
      ok: false,
      message: "\\x at position 2 needs two hex digits (\\x00 to \\xff), got '\\x4'",
    });
    expect(parseEscapedText("end\\")).toEqual({
      ok: false,
      message: "a lone backslash at the end (position 4): write \\\\ for a backslash",
    });
  });

  it("reads hex with spaces, colons and 0x, and explains odd or bad digits", () => {
    expect(parseHex("de ad:be 0xef")).toEqual({ ok: true, bytes: bytes(0xde, 0xad, 0xbe, 0xef) });
    expect(parseHex("abc")).toEqual({
      ok: false,
      message: "an odd number of hex digits (3): each byte takes two digits, e.g. '0a' rather than 'a'",
    });
    expect(parseHex("zz")).toEqual({
      ok: false,
      message: "'z' is not a hex digit: use 0-9 and a-f, two digits per byte",
    });
  });
});
