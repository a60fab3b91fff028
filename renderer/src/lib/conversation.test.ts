import { describe, expect, it } from "vitest";
import { MemoryTimeline, settle } from "../../../tests/helpers/memory-timeline.ts";
import { ConversationScan, ConversationText } from "./conversation.ts";
import type { DataEvent } from "../../../preload/timeline.ts";

const chunk = (dir: "in" | "out", data: string | Uint8Array): DataEvent => ({
  seq: 0,
  t: 0,
  conn: 1,
  kind: "data",
  dir,
  data: typeof data === "string" ? new TextEncoder().encode(data) : data,
});

describe("ConversationText", () => {
  it("joins runs of one direction and starts a segment when it turns", () => {
    const text = new ConversationText("ascii");
    text.append([chunk("out", "GET / HTTP/1.1\r\n"), chunk("out", "\r\n"), chunk("in", "HTTP/1.1 200 OK\r\n")]);
    expect(text.segments.map((s) => [s.dir, s.text])).toEqual([
      ["out", "GET / HTTP/1.1\r\n\r\n"],
      ["in", "HTTP/1.1 200 OK\r\n"],
    ]);
    const before = text.segments;
    text.append([chunk("in", Uint8Array.from([0x00, 0xff]))]);
    expect(text.segments[1]!.text).toBe("HTTP/1.1 200 OK\r\n··");
    // A new array and a new last segment; the untouched one is the same object (keyed updates stay small).
    expect(text.segments).not.toBe(before);
    expect(text.segments[0]).toBe(before[0]);
  });

  it("decodes UTF-8 per direction as a stream, so a character split across chunks survives", () => {
    const text = new ConversationText("utf-8");
    const e = new TextEncoder().encode("é");
    text.append([chunk("in", e.subarray(0, 1)), chunk("out", "x"), chunk("in", e.subarray(1))]);
    expect(text.segments.map((s) => s.text)).toEqual(["x", "é"]);
  });

  it("keeps only the last `cap` characters and counts what it dropped", () => {
    const text = new ConversationText("ascii", 10);
    text.append([chunk("out", "aaaa"), chunk("in", "bbbb"), chunk("out", "cccc")]);
    expect(text.segments.map((s) => s.text).join("")).toBe("aabbbbcccc");
    expect(text.dropped).toBe(2);
    text.append([chunk("in", "dddddddd")]);
    expect(text.segments.map((s) => [s.dir, s.text])).toEqual([
      ["out", "cc"],
      ["in", "dddddddd"],
    ]);
    expect(text.dropped).toBe(10);
  });
});

describe("ConversationScan", () => {
  it("collects one connection's chunks in order, then follows new ones", async () => {
    const t = new MemoryTimeline().lifecycle(1, "connected").data(1, "out", "a").data(2, "out", "X").data(1, "in", "b");
    const got: string[][] = [];
    const scan = new ConversationScan(
      t.readTimeline,
      1,
      (chunks) => got.push(chunks.map((c) => new TextDecoder().decode(c.data))),
      t.count,
    );
    await settle();
    expect(got).toEqual([["a", "b"]]);
    expect(scan.from).toBe(0);
    t.data(1, "out", "c").data(2, "in", "Y");
    scan.grow(t.count);
    await settle();
    expect(got).toEqual([["a", "b"], ["c"]]);
  });

  it("looks back only until it has enough bytes or has looked far enough", async () => {
    const t = new MemoryTimeline();
    for (let i = 0; i < 5000; i++) t.data(i % 2 ? 1 : 2, "in", "0123456789");
    const got: DataEvent[] = [];
    const scan = new ConversationScan(t.readTimeline, 1, (chunks) => got.push(...chunks), t.count, 10_000, 1_000_000);
    await settle();
    // 1,000 chunks of conn 1 make 10,000 bytes: the last 2,000 events (two pages of 1,000) are enough.
    expect(scan.from).toBe(3000);
    expect(got).toHaveLength(1000);
    expect(got[0]!.seq).toBe(3001);

    const sparse = new MemoryTimeline().data(1, "in", "early");
    for (let i = 0; i < 3000; i++) sparse.data(2, "in", "noise");
    const found: DataEvent[] = [];
    const limited = new ConversationScan(sparse.readTimeline, 1, (c) => found.push(...c), sparse.count, 10_000, 2000);
    await settle();
    expect(limited.from).toBe(1001);
    expect(found).toHaveLength(0);
  });
});
