/**
 * Change notices: at most one emit per interval however fast sessions grow, each with the latest count per
 * session, and the last change always emitted.
 */
import { describe, expect, it } from "vitest";
import { Clock } from "../../core/task.ts";
import { ChangeNotifier, type SessionChange } from "./notifier.ts";

function recording(intervalMs = 50): { clock: Clock; notifier: ChangeNotifier; emits: [number, SessionChange[]][] } {
  const clock = new Clock();
  const emits: [number, SessionChange[]][] = [];
  const notifier = new ChangeNotifier(intervalMs, (batch) => emits.push([clock.seconds(), batch]), clock);
  return { clock, notifier, emits };
}

describe("ChangeNotifier", () => {
  it("batches a burst into one emit with the latest count per session, in first-touched order", () => {
    const { clock, notifier, emits } = recording();
    for (let count = 1; count <= 1000; count += 1) {
      notifier.touch("b", count);
      if (count % 2 === 0) notifier.touch("a", count / 2);
    }
    expect(emits).toEqual([]); // nothing synchronous: same-tick touches batch
    clock.advance(0);
    expect(emits).toEqual([
      [
        0,
        [
          { session: "b", count: 1000 },
          { session: "a", count: 500 },
        ],
      ],
    ]);
  });

  it("emits at most once per interval under steady touches, and always emits the last state", () => {
    const { clock, notifier, emits } = recording(50);
    // A touch every millisecond for a second, then silence.
    let count = 0;
    for (let ms = 0; ms < 1000; ms += 1) {
      notifier.touch("s", ++count);
      clock.advance(0.001);
    }
    clock.advance(1);
    const times = emits.map(([at]) => at);
    for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(0.05 - 1e-9);
    expect(emits.length).toBeLessThanOrEqual(1000 / 50 + 1);
    expect(emits.at(-1)![1]).toEqual([{ session: "s", count: 1000 }]);
    // Counts only grow from one emit to the next, and nothing is emitted without a touch.
    const counts = emits.map(([, batch]) => batch[0]!.count);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    clock.advance(10);
    expect(emits.length).toBe(times.length);
  });

  it("after a quiet interval, a touch is emitted on the next turn, not an interval later", () => {
    const { clock, notifier, emits } = recording(50);
    notifier.touch("s", 1);
    clock.advance(0);
    clock.advance(0.2);
    notifier.touch("s", 2);
    clock.advance(0);
    expect(emits.map(([at, batch]) => [at, batch[0]!.count])).toEqual([
      [0, 1],
      [0.2, 2],
    ]);
  });

  it("a touch soon after an emit waits out the rest of the interval", () => {
    const { clock, notifier, emits } = recording(50);
    notifier.touch("s", 1);
    clock.advance(0);
    clock.advance(0.01);
    notifier.touch("s", 2);
    clock.advance(0.039);
    expect(emits).toHaveLength(1);
    clock.advance(0.001);
    expect(emits.map(([, batch]) => batch[0]!.count)).toEqual([1, 2]);
  });

  it("dispose drops what is pending and ignores later touches", () => {
    const { clock, notifier, emits } = recording();
    notifier.touch("s", 1);
    notifier.dispose();
    notifier.touch("s", 2);
    clock.advance(1);
    expect(emits).toEqual([]);
    expect(clock.getDelayedCalls()).toEqual([]);
    notifier.dispose();
  });

  it("on the real reactor: thousands of touches over 300 ms give a handful of emits, the last one current", async () => {
    const emits: { at: number; batch: SessionChange[] }[] = [];
    const notifier = new ChangeNotifier(50, (batch) => emits.push({ at: performance.now(), batch }));
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < 300) {
      for (let i = 0; i < 100; i += 1) notifier.touch("live", ++count);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 120));
    expect(count).toBeGreaterThan(1000);
    expect(emits.length).toBeGreaterThanOrEqual(3);
    expect(emits.length).toBeLessThanOrEqual(300 / 50 + 2);
    // Node's timers have millisecond granularity: allow 2 ms under the interval.
    for (let i = 1; i < emits.length; i += 1) expect(emits[i]!.at - emits[i - 1]!.at).toBeGreaterThanOrEqual(48);
    expect(emits.at(-1)!.batch).toEqual([{ session: "live", count }]);
    notifier.dispose();
  });
});
