import { describe, expect, it } from "vitest";
import { formatBytes, formatRate, plural } from "./format.ts";

describe("formatBytes / formatRate", () => {
  it("keeps small counts exact and larger ones short", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(20 * 1024)).toBe("20 KiB");
    expect(formatBytes(3.25 * 1024 * 1024)).toBe("3.3 MiB");
  });

  it("shows fractions of a byte per second as zero", () => {
    expect(formatRate(0.4)).toBe("0 B/s");
    expect(formatRate(2048)).toBe("2.0 KiB/s");
  });

  it("counts in words", () => {
    expect(plural(1, "session")).toBe("1 session");
    expect(plural(3, "connection")).toBe("3 connections");
  });
});
