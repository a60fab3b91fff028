import { describe, expect, it } from "vitest";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { CLOCK_MEMORY, conversationClock, mergeTimeline, type DecodeOutput } from "./decode.ts";

const data = (t: number): NewTimelineEvent => ({ kind: "data", t, conn: 1, dir: "in", data: new Uint8Array([1]) });
const lost = (t: number): NewTimelineEvent => ({ kind: "lifecycle", t, conn: 1, event: "lost", detail: "done" });
const line = (t: number, text: string): DecodeOutput => ({
  kind: "log",
  t,
  level: "info",
  text,
  fields: {},
  fromProtocol: true,
});

describe("the decode's timeline", () => {
  it("puts a decoded message after the bytes it came from, and before the end at the same time", () => {
    const merged = mergeTimeline([data(5), data(9), lost(9)], [line(5, "first"), line(9, "last")], 1);
    expect(merged.map((e) => (e.kind === "log" ? e.text : e.kind === "data" ? `data@${e.t}` : e.event))).toEqual([
      "data@5",
      "first",
      "data@9",
      "last",
      "lost",
    ]);
  });
});

describe("the decode's clock", () => {
  it("turns recent times it sent back exactly, and remembers a bounded number of them", () => {
    const clock = conversationClock({ epochMs: 1_700_000_000_123 });
    for (let t = 0; t < 100_000; t++) clock.seconds(t * 7 + 3);
    expect(clock.remembered).toBe(CLOCK_MEMORY);
    for (let t = 100_000 - CLOCK_MEMORY; t < 100_000; t++)
      expect(clock.micros(clock.seconds(t * 7 + 3))).toBe(t * 7 + 3);
    // An older time (or one a protocol's call came due at) is turned back by rounding.
    expect(Math.abs(clock.micros((1_700_000_000_123_000 + 3) / 1e6) - 3)).toBeLessThanOrEqual(1);
    expect(Math.abs(clock.micros((1_700_000_000_123_000 + 250_000) / 1e6) - 250_000)).toBeLessThanOrEqual(1);
  });
});
