import { describe, expect, it } from "vitest";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { mergeTimeline, type DecodeOutput } from "./decode.ts";

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
