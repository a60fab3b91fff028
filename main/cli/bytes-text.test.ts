import { describe, expect, it } from "vitest";
import { escapedPreview, PREVIEW_CHARS } from "./bytes-text.ts";

describe("a chunk's preview on the CLI", () => {
  it("spells the send box's escapes, printable ASCII as itself and \\xNN for the rest", () => {
    expect(escapedPreview(Buffer.from("*1\r\n$4\r\nPING\r\n"))).toBe("*1\\r\\n$4\\r\\nPING\\r\\n");
    expect(escapedPreview(Uint8Array.of(0x00, 0x09, 0x5c, 0x7f, 0xff, 0x41))).toBe("\\x00\\t\\\\\\x7f\\xffA");
  });

  it("is cut with … before a piece that would pass the limit, never inside an escape", () => {
    const long = Buffer.from("a".repeat(PREVIEW_CHARS - 1) + "\r\n");
    expect(escapedPreview(long)).toBe("a".repeat(PREVIEW_CHARS - 1) + "…");
    expect(escapedPreview(Buffer.from("a".repeat(PREVIEW_CHARS)))).toBe("a".repeat(PREVIEW_CHARS));
    expect(escapedPreview(Buffer.from("abc\x01def"), 5)).toBe("abc…");
    expect(escapedPreview(Buffer.alloc(0))).toBe("");
  });

  it("gives the same text for each of many previews in a row (nothing of one leaks into the next)", () => {
    const texts = ["+OK\r\n", "$3\r\nbar\r\n", "-ERR\r\n"].map((t) => escapedPreview(Buffer.from(t)));
    expect(texts).toEqual(["+OK\\r\\n", "$3\\r\\nbar\\r\\n", "-ERR\\r\\n"]);
  });
});
