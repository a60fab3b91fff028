import { describe, expect, it } from "vitest";
import { ReactorTime } from "../../core/base.ts";
import { VirtualClock } from "./virtual-clock.ts";

/** A reactor time with a virtual clock installed, and what it reported. */
function setUp() {
  const moves: number[] = [];
  const time = new ReactorTime();
  const clock = new VirtualClock((s) => moves.push(s));
  clock.install(time);
  return { time, clock, moves };
}

describe("VirtualClock", () => {
  it("moves only when told, and runs each due call at its own time", () => {
    const { time, clock, moves } = setUp();
    clock.set(100);
    const ran: string[] = [];
    time.callLater(0.5, () => ran.push(`a@${time.seconds()}`));
    time.callLater(0.2, () => {
      ran.push(`b@${time.seconds()}`);
      time.callLater(0, () => ran.push(`c@${time.seconds()}`));
    });
    expect(time.seconds()).toBe(100);
    clock.advanceTo(101);
    expect(ran).toEqual(["b@100.2", "c@100.2", "a@100.5"]);
    expect(moves).toEqual([100, 100.2, 100.5, 101]);
    expect(time.seconds()).toBe(101);
    clock.advanceTo(50); // never backwards
    expect(time.seconds()).toBe(101);
  });

  it("starts a new run with set(): pending calls are dropped, time may go back", () => {
    const { time, clock } = setUp();
    clock.set(10);
    let ran = false;
    time.callLater(1, () => (ran = true));
    clock.set(5);
    clock.advanceTo(20);
    expect(ran).toBe(false);
    expect(time.getDelayedCalls()).toEqual([]);
  });

  it("refuses a negative delay, as the reactor does", () => {
    const { time } = setUp();
    expect(() => time.callLater(-1, () => {})).toThrow(RangeError);
  });
});
