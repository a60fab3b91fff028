import { describe, expect, it } from "vitest";
import { MemoryTimeline, settle } from "../../../tests/helpers/memory-timeline.ts";
import { TimelineCache } from "./timeline-cache.ts";

function timeline(n: number, chunk = "x"): MemoryTimeline {
  const t = new MemoryTimeline();
  for (let i = 0; i < n; i++) t.data(1, i % 2 ? "in" : "out", chunk);
  return t;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("TimelineCache", () => {
  it("fetches the page around what is visible, once", async () => {
    const t = timeline(1000);
    let loaded = 0;
    const cache = new TimelineCache(t.readTimeline, () => loaded++, { pageSize: 100 });
    cache.want(range(250, 280), true);
    await settle();
    expect(t.reads).toEqual([{ from: 250, count: 50 }]);
    expect(cache.get(265)?.seq).toBe(265);
    expect(loaded).toBe(1);
    cache.want(range(255, 285), true);
    await settle();
    expect(t.reads).toHaveLength(1);
  });

  it("completes a tail page that was fetched while the timeline was shorter", async () => {
    const t = timeline(130);
    const cache = new TimelineCache(t.readTimeline, () => {}, { pageSize: 100 });
    cache.want(range(100, 130), true);
    await settle();
    for (let i = 0; i < 20; i++) t.data(1, "in", "y");
    cache.want(range(120, 150), true);
    await settle();
    expect(t.reads).toEqual([
      { from: 100, count: 100 },
      { from: 130, count: 70 },
    ]);
    expect(cache.get(149)?.seq).toBe(149);
  });

  it("fetches scattered rows in runs, not whole pages", async () => {
    const t = timeline(100_000);
    const cache = new TimelineCache(t.readTimeline, () => {});
    cache.want([10, 12, 15, 5_000, 90_000, 90_001], false);
    await settle();
    expect(t.reads).toEqual([
      { from: 10, count: 6 },
      { from: 5_000, count: 1 },
      { from: 90_000, count: 2 },
    ]);
  });

  it("keeps at most maxPages, never evicting what is wanted", async () => {
    const t = timeline(10_000);
    const cache = new TimelineCache(t.readTimeline, () => {}, { pageSize: 100, maxPages: 3 });
    for (let p = 0; p < 10; p++) {
      cache.want(range(p * 100, p * 100 + 10), true);
      await settle();
    }
    expect(cache.size.pages).toBe(3);
    expect(cache.get(905)).toBeDefined();
    expect(cache.get(5)).toBeUndefined();
    // Scattered rows over more pages than the limit all stay while they are wanted.
    const scattered = range(0, 10).map((p) => p * 1000);
    cache.want(scattered, false);
    await settle();
    for (const s of scattered) expect(cache.get(s)?.seq).toBe(s);
  });

  it("bounds the payload it holds", async () => {
    const t = timeline(1000, "z".repeat(10_000));
    const cache = new TimelineCache(t.readTimeline, () => {}, { pageSize: 100, maxBytes: 1_500_000 });
    for (let p = 0; p < 10; p++) {
      cache.want(range(p * 100, p * 100 + 1), true);
      await settle();
    }
    expect(cache.size.bytes).toBeLessThanOrEqual(1_500_000);
    expect(cache.size.pages).toBe(1);
  });

  it("asks only for what is wanted now, a few requests at a time", async () => {
    const t = timeline(100_000);
    const cache = new TimelineCache(t.readTimeline, () => {}, { pageSize: 100, maxInFlight: 2 });
    // A fast scroll: five positions before any answer arrives.
    for (const at of [0, 20_000, 40_000, 60_000, 80_000]) cache.want(range(at, at + 30), true);
    await settle();
    const froms = t.reads.map((r) => r.from);
    expect(froms).toEqual([0, 20_000, 80_000]);
  });

  it("does not retry a failed read until asked again", async () => {
    const t = timeline(100);
    t.failing = true;
    const cache = new TimelineCache(t.readTimeline, () => {});
    cache.want(range(0, 10), true);
    await settle();
    expect(t.reads).toHaveLength(1);
    t.failing = false;
    cache.want(range(0, 10), true);
    await settle();
    expect(t.reads).toHaveLength(2);
    expect(cache.get(9)).toBeDefined();
  });

  it("reads on after a short answer (the engine's per-read byte limit)", async () => {
    const t = new MemoryTimeline({ maxBytes: 25_000 });
    for (let i = 0; i < 10; i++) t.data(1, "in", "q".repeat(10_000));
    const cache = new TimelineCache(t.readTimeline, () => {}, { pageSize: 100 });
    cache.want(range(0, 10), true);
    await settle();
    expect(t.reads.map((r) => r.from)).toEqual([0, 2, 4, 6, 8]);
    expect(cache.get(9)).toBeDefined();
  });
});
