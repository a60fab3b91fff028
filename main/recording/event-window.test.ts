/**
 * The window keeps exactly the latest events its bounds allow, bytes intact, whatever the order of sizes, and a chunk
 * passed twice in a row is read from the one place that holds it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { RECORD_OVERHEAD } from "./capture-format.ts";
import { EventWindow } from "./event-window.ts";

/** What an event is counted as: its bytes plus `overhead` (the recorder's RECORD_OVERHEAD; 0 fills the bound exactly). */
const sizeOf = (e: TimelineEvent, overhead: number): number => (e.kind === "data" ? overhead + e.data.byteLength : 50);

/** Events as strings, bytes in hex: compared much faster than element by element. */
const text = (events: TimelineEvent[]): string[] =>
  events.map((e) => JSON.stringify(e.kind === "data" ? { ...e, data: Buffer.from(e.data).toString("hex") } : e));

/** A step: a new chunk of `size` bytes, the previous chunk again, or a lifecycle event. */
type Step = { kind: "chunk"; size: number } | { kind: "again" } | { kind: "lifecycle" };

// Sizes and bounds in round hundreds make exact fits (a region ending right at the ring's end or at its tail) common.
const size = fc.oneof(fc.constantFrom(100, 200, 300, 500, 700), fc.nat(700));
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("chunk" as const), size }) },
  { weight: 2, arbitrary: fc.constant({ kind: "again" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "lifecycle" as const }) },
);

describe("EventWindow", () => {
  it("holds the latest events within both bounds, each with its own bytes intact", () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 300, size: "max" }),
        fc.integer({ min: 1, max: 40 }),
        fc.oneof(
          fc.integer({ min: 0, max: 50 }).map((n) => n * 100),
          fc.nat(5000),
        ),
        fc.constantFrom(0, RECORD_OVERHEAD),
        (steps, maxEvents, maxBytes, overhead) => {
          const first = 7; // a window over a timeline that didn't start with it
          const window = new EventWindow(first, maxEvents, maxBytes, "test.wscap");
          const all: TimelineEvent[] = [];
          let chunk = new Uint8Array(0);
          for (const s of steps) {
            const seq = first + all.length;
            let e: TimelineEvent;
            if (s.kind === "lifecycle") {
              e = { seq, t: seq, conn: 0, kind: "lifecycle", event: "paused", detail: `at ${seq}` };
            } else {
              if (s.kind === "chunk") chunk = new Uint8Array(s.size).map((_, i) => (seq * 31 + i) & 0xff);
              e = { seq, t: seq, conn: 1 + (seq % 3), kind: "data", dir: seq % 2 ? "in" : "out", data: chunk };
            }
            all.push(e);
            window.add(e, sizeOf(e, overhead), e.kind === "data" ? e.data : undefined, 0);

            const end = first + all.length;
            expect(window.start + window.length).toBe(end);
            expect(window.length).toBeLessThanOrEqual(maxEvents);
            expect(window.size).toBeLessThanOrEqual(maxBytes);
            const held = all.slice(window.start - first);
            expect(window.size).toBe(held.reduce((n, x) => n + sizeOf(x, overhead), 0));
            expect(text(window.slice(window.start, end))).toEqual(text(held));
            // Whatever fits both bounds is held.
            if (window.length < maxEvents && window.start > first) {
              const older = all[window.start - first - 1]!;
              const fitsBytes = window.size + sizeOf(older, overhead) <= maxBytes;
              if (fitsBytes) expect.fail("evicted an event it had room for");
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps a chunk passed twice in a row once: its bytes are still there after the first event is evicted", () => {
    const window = new EventWindow(0, 2, 10_000, "test.wscap");
    const chunk = new Uint8Array(4000).fill(9);
    window.add({ seq: 0, t: 0, conn: 1, kind: "data", dir: "in", data: chunk }, RECORD_OVERHEAD + 4000, chunk, 0);
    window.add({ seq: 1, t: 1, conn: 2, kind: "data", dir: "out", data: chunk }, RECORD_OVERHEAD + 4000, chunk, 0);
    // Evicts seq 0 (count bound): seq 1 still reads the bytes they shared.
    const other = new Uint8Array(4000).fill(5);
    window.add({ seq: 2, t: 2, conn: 1, kind: "data", dir: "in", data: other }, RECORD_OVERHEAD + 4000, other, 0);
    const [second, third] = window.slice(1, 3);
    expect(second?.kind === "data" && second.data.every((b) => b === 9) && second.data.byteLength).toBe(4000);
    expect(third?.kind === "data" && third.data.every((b) => b === 5) && third.data.byteLength).toBe(4000);
  });
});
