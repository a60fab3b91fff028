import { describe, expect, it } from "vitest";
import { answerParts, formatParts, replaySummary } from "./replay-diff.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("answerParts", () => {
  it("cuts an answer at its first difference: before, the differing byte, after", () => {
    const parts = answerParts(bytes("+PONG\r\n"), 1);
    expect(formatParts(parts, "text")).toEqual({ before: "+", differing: "P", after: "ONG\r\n" });
    expect(parts.endsAtDifference).toBe(false);
  });

  it("marks an answer that ends where the other goes on", () => {
    const parts = answerParts(bytes("+OK"), 3);
    expect(parts.endsAtDifference).toBe(true);
    expect(formatParts(parts, "text")).toEqual({ before: "+OK", differing: "", after: "" });
  });

  it("shows the same answers whole, with no difference", () => {
    const parts = answerParts(bytes("abc"), null);
    expect(formatParts(parts, "hex")).toEqual({ before: "61 62 63", differing: "", after: "" });
  });

  it("writes hex with a space where the parts meet", () => {
    const parts = answerParts(bytes("abcd"), 2);
    const hex = formatParts(parts, "hex");
    expect(hex.before + hex.differing + hex.after).toBe("61 62 63 64");
    expect(hex.differing).toBe("63");
  });

  it("shows a window around a difference far into a long answer, and counts what it leaves out", () => {
    const data = new Uint8Array(10_000).fill(0x61);
    const parts = answerParts(data, 9_000, 1000);
    expect(parts.skipped).toBe(9_000 - 256);
    expect(parts.before.length).toBe(256);
    expect(parts.differing.length).toBe(1);
    expect(parts.skipped + parts.before.length + 1 + parts.after.length + parts.hidden).toBe(10_000);
  });
});

describe("replaySummary", () => {
  const report = { exchanges: [], same: 7, differing: 1 };
  it("says how many answers are the same and how many differ", () => {
    expect(replaySummary({ ...report, state: "done" })).toBe("7 the same, 1 different");
  });
  it("says it is still running, or why it failed", () => {
    expect(replaySummary({ ...report, state: "running" })).toMatch(/so far \(running\)/);
    expect(replaySummary({ ...report, state: "failed", error: "ConnectionRefusedError: refused" })).toMatch(
      /failed: ConnectionRefusedError/,
    );
  });
});
