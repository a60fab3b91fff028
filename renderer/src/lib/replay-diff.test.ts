import { describe, expect, it } from "vitest";
import { answerParts, formatParts, replaySummary, shownRange } from "./replay-diff.ts";

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

describe("answers the report carried a window of", () => {
  it("finds the difference at its offset in the whole and counts the bytes the report left out", () => {
    // The report carried bytes 4000..5999 of a 10,000-byte answer; the difference is at byte 4500 of the whole.
    const data = new Uint8Array(2000).fill(0x61);
    data[500] = 0x62;
    const parts = answerParts(data, 4500, 1000, { offset: 4000, length: 10_000 });
    expect(parts.total).toBe(10_000);
    expect(formatParts(parts, "text").differing).toBe("b");
    expect(parts.skipped).toBe(4000);
    expect(parts.skipped + parts.before.length).toBe(4500);
    expect(parts.skipped + parts.before.length + 1 + parts.after.length + parts.hidden).toBe(10_000);
    expect(parts.endsAtDifference).toBe(false);
    expect(shownRange(parts)).toBe("bytes 4,000–4,999 of 10,000");
  });

  it("says an answer ends at the difference only when the window reaches the whole's end", () => {
    const data = new TextEncoder().encode("abc");
    expect(answerParts(data, 103, 1000, { offset: 100, length: 103 }).endsAtDifference).toBe(true);
    expect(answerParts(data, 103, 1000, { offset: 100, length: 200 }).endsAtDifference).toBe(false);
  });

  it("says which bytes are shown only when they are not the whole answer", () => {
    expect(shownRange(answerParts(bytes("+OK\r\n"), null))).toBeNull();
    const sent = answerParts(new Uint8Array(65_536), null, 4096, { offset: 0, length: 1_000_000 });
    expect(shownRange(sent)).toBe("bytes 0–4,095 of 1,000,000");
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
