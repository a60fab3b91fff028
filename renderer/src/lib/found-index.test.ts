import { describe, expect, it } from "vitest";
import type { Result } from "../../../preload/contract.ts";
import { FoundIndex, type FindQuery, type FoundPage } from "./found-index.ts";

/**
 * An engine's findTimeline over a timeline of `length()` events where every `every`-th event matches, looking at
 * `budget` events per call at most (the engine's bounded work), as the contract describes.
 */
function fakeEngine(length: () => number, every: number, budget = 30_000) {
  const calls: { from: number; limit: number }[] = [];
  const find = async (_q: FindQuery, from: number, limit: number): Promise<Result<FoundPage>> => {
    calls.push({ from, limit });
    await Promise.resolve();
    const total = length();
    const seqs: number[] = [];
    let seq = from;
    for (; seq < Math.min(total, from + budget) && seqs.length < limit; seq++) if (seq % every === 0) seqs.push(seq);
    return { ok: true, value: { seqs, next: seq >= total ? -1 : seq, scanned: seq - from, total } };
  };
  return { find, calls };
}

const settled = () => new Promise((r) => setTimeout(r, 0));

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await settled();
}

describe("FoundIndex", () => {
  it("finds matches from the very start of a capture far longer than the old 100,000-event window", async () => {
    const engine = fakeEngine(() => 250_000, 1000);
    const ix = new FoundIndex(engine.find, { filter: "x", conn: null }, () => {}, 250_000);
    await until(() => !ix.searching);
    expect(ix.length).toBe(250);
    expect(ix.at(0)).toBe(0);
    expect(ix.at(1)).toBe(1000);
    expect(ix.scanned).toBe(250_000);
    expect(engine.calls.length).toBeGreaterThan(1);
    expect(ix.indexOf(2000)).toBe(2);
    expect(ix.indexOf(2001)).toBe(-1);
  });

  it("stops calling the engine when cancelled, and goes on from there when resumed", async () => {
    const engine = fakeEngine(() => 300_000, 10);
    const ix = new FoundIndex(engine.find, { filter: "x", conn: null }, () => {}, 300_000);
    ix.cancel();
    await until(() => engine.calls.length >= 1);
    await settled();
    const calls = engine.calls.length;
    const scanned = ix.scanned;
    await settled();
    expect(engine.calls.length).toBe(calls);
    expect(ix.searching).toBe(false);
    expect(scanned).toBeLessThan(300_000);
    ix.resume();
    await until(() => !ix.searching);
    expect(ix.scanned).toBe(300_000);
    expect(ix.length).toBe(30_000);
    expect(ix.at(ix.length - 1)).toBe(299_990);
  });

  it("looks only at the new events when the timeline grows", async () => {
    let length = 1000;
    const engine = fakeEngine(() => length, 100);
    const ix = new FoundIndex(engine.find, { filter: "x", conn: 2 }, () => {}, 1000);
    await until(() => !ix.searching);
    expect(ix.length).toBe(10);
    length = 1500;
    ix.grow(1500);
    await until(() => !ix.searching);
    expect(ix.length).toBe(15);
    expect(engine.calls.map((c) => c.from)).toEqual([0, 1000]);
  });

  it("stops on a wrong expression with the engine's message, and does not go on", async () => {
    let calls = 0;
    const ix = new FoundIndex(
      async () => {
        calls++;
        return {
          ok: false,
          error: { code: "bad-filter", category: "usage", message: "at column 9: expected a value after '=='" },
        } as Result<FoundPage>;
      },
      { filter: "command ==", conn: null },
      () => {},
      10,
    );
    await until(() => ix.error !== null);
    expect(ix.error).toMatch(/column 9/);
    expect(ix.badFilter).toBe(true);
    ix.resume();
    await settled();
    expect(calls).toBe(1);
  });
});
