import { describe, expect, it } from "vitest";
import { MemoryTimeline, settle } from "../../../tests/helpers/memory-timeline.ts";
import { FilteredIndex } from "./filtered-index.ts";
import { isFiltering, matches, parseSearch, type TimelineFilter } from "./timeline-filter.ts";

const all: TimelineFilter = {
  conn: null,
  incoming: true,
  outgoing: true,
  lifecycle: true,
  decoded: true,
  search: null,
};

function search(text: string): TimelineFilter["search"] {
  const parsed = parseSearch(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.search;
}

describe("filters", () => {
  const t = new MemoryTimeline()
    .lifecycle(1, "connected", "127.0.0.1:5000 -> 127.0.0.1:6000")
    .data(1, "out", "PING\r\n")
    .data(1, "in", Uint8Array.from([0xde, 0xad, 0xbe, 0xef]))
    .log(1, "decoded SET", { key: "Foo" })
    .data(2, "in", "+PONG\r\n");
  const rows = (f: TimelineFilter) => t.events.filter((e) => matches(e, f)).map((e) => e.seq);

  it("show everything until something is unchecked or searched", () => {
    expect(isFiltering(all)).toBe(false);
    expect(rows(all)).toEqual([0, 1, 2, 3, 4]);
  });

  it("select by connection, direction and kind", () => {
    expect(rows({ ...all, conn: 2 })).toEqual([4]);
    expect(rows({ ...all, incoming: false })).toEqual([0, 1, 3]);
    expect(rows({ ...all, outgoing: false, lifecycle: false, decoded: false })).toEqual([2, 4]);
  });

  it("search text case-insensitively in bytes, details and decoded fields", () => {
    expect(rows({ ...all, search: search("pong") })).toEqual([4]);
    expect(rows({ ...all, search: search("6000") })).toEqual([0]);
    expect(rows({ ...all, search: search("foo") })).toEqual([3]);
  });

  it("search bytes with hex:", () => {
    expect(rows({ ...all, search: search("hex: ad be") })).toEqual([2]);
    expect(rows({ ...all, search: search("HEX:0d0a") })).toEqual([1, 4]);
    expect(parseSearch("hex: abc")).toEqual({
      ok: false,
      message: "hex search: an odd number of hex digits (3): each byte takes two digits, e.g. '0a' rather than 'a'",
    });
    expect(parseSearch("  ")).toEqual({ ok: true, search: null });
  });
});

function traffic(n: number): MemoryTimeline {
  const t = new MemoryTimeline();
  for (let i = 0; i < n; i++) t.data(1 + (i % 4), i % 2 ? "in" : "out", `msg ${i}`);
  return t;
}

describe("FilteredIndex", () => {
  it("finds the matches of the last window, then of what arrives", async () => {
    const t = traffic(1000);
    const ix = new FilteredIndex(t.readTimeline, { ...all, conn: 3 }, () => {}, t.count, 400, 64);
    await settle();
    expect(ix.lo).toBe(600);
    expect(ix.hi).toBe(1000);
    expect(ix.length).toBe(100);
    expect(ix.at(0)).toBe(602);
    expect(ix.indexOf(998)).toBe(99);
    expect(ix.indexOf(997)).toBe(-1);
    for (let i = 0; i < 8; i++) t.data(3, "in", "late");
    ix.grow(t.count);
    await settle();
    expect(ix.length).toBe(108);
    expect(ix.at(107)).toBe(1007);
  });

  it("prepends older matches in one go and says how many", async () => {
    const t = traffic(1000);
    const changes: number[] = [];
    const ix = new FilteredIndex(
      t.readTimeline,
      { ...all, conn: 1 },
      (c) => changes.push(c.prepended),
      t.count,
      400,
      64,
    );
    await settle();
    expect(ix.length).toBe(100);
    ix.older();
    await settle();
    expect(ix.lo).toBe(200);
    expect(ix.length).toBe(200);
    expect(changes.filter((n) => n > 0)).toEqual([100]);
    expect(ix.at(0)).toBe(200);
    ix.older();
    await settle();
    expect(ix.lo).toBe(0);
    expect(ix.length).toBe(250);
    expect(ix.pending).toBe(0);
    // Ascending, no duplicates.
    for (let i = 1; i < ix.length; i++) expect(ix.at(i)).toBeGreaterThan(ix.at(i - 1));
  });

  it("stops on a failed read and says so; growing resumes it", async () => {
    const t = traffic(100);
    t.failing = true;
    const ix = new FilteredIndex(t.readTimeline, { ...all, incoming: false }, () => {}, t.count);
    await settle();
    expect(ix.error).toBe("the timeline could not be read");
    t.failing = false;
    t.data(1, "out", "x");
    ix.grow(t.count);
    await settle();
    expect(ix.length).toBe(51);
  });

  it("stops scanning once disposed", async () => {
    const t = traffic(5000);
    const ix = new FilteredIndex(t.readTimeline, { ...all, conn: 1 }, () => {}, t.count, 5000, 100);
    ix.dispose();
    await settle();
    expect(t.reads.length).toBeLessThanOrEqual(1);
  });
});
