/**
 * Clock, LoopingCall and deferLater, ported from src/twisted/test/test_task.py (ClockTests, LoopTests,
 * ReactorLoopTests, DeferLaterTests). withCount and the repr/deprecation tests have no counterpart here.
 */
import { describe, expect, it } from "vitest";
import { reactorTime } from "./base.ts";
import { AlreadyCalled } from "./errors.ts";
import { Clock, LoopingCall, deferLater } from "./task.ts";

class TestException extends Error {}

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Settles to a label, so a rejection is always handled at once (no unhandled-rejection report). */
function outcome<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Records whether `p` has settled yet. */
function track<T>(p: Promise<T>): { settled: boolean; result: Promise<{ value: T } | { error: unknown }> } {
  const state = { settled: false, result: outcome(p) };
  void state.result.then(() => {
    state.settled = true;
  });
  return state;
}

describe("Clock (ClockTests)", () => {
  it("testSeconds: starts at 0", () => {
    expect(new Clock().seconds()).toBe(0);
  });

  it("testCallLater: returns an active IDelayedCall at the given time", () => {
    const c = new Clock();
    const call = c.callLater(1, (_a: number, _b: number) => {}, 1, 2);
    expect(call.getTime()).toBe(1);
    expect(call.active()).toBe(true);
  });

  it("testCallLaterCancelled", () => {
    const c = new Clock();
    const call = c.callLater(1, () => {});
    call.cancel();
    expect(call.active()).toBe(false);
    expect(c.getDelayedCalls()).toEqual([]);
  });

  it("test_callLaterOrdering: each callLater returns a new call", () => {
    const c = new Clock();
    expect(c.callLater(10, () => {})).not.toBe(c.callLater(1, () => {}));
  });

  it("testAdvance: advancing fires the calls now due", () => {
    const events: null[] = [];
    const c = new Clock();
    const call = c.callLater(2, () => events.push(null));
    c.advance(1);
    expect(events).toEqual([]);
    c.advance(1);
    expect(events).toEqual([null]);
    expect(call.active()).toBe(false);
  });

  it("testAdvanceCancel: cancelling from inside the call throws AlreadyCalled", () => {
    const c = new Clock();
    const errors: unknown[] = [];
    const call = c.callLater(1, () => {
      try {
        call.cancel();
      } catch (err) {
        errors.push(err);
      }
    });
    c.advance(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AlreadyCalled);
  });

  it("testCallLaterDelayed", () => {
    const events: [number, number][] = [];
    const c = new Clock();
    const call = c.callLater(1, (a: number, b: number) => events.push([a, b]), 1, 2);
    call.delay(1);
    expect(call.getTime()).toBe(2);
    c.advance(1.5);
    expect(events).toEqual([]);
    c.advance(1.0);
    expect(events).toEqual([[1, 2]]);
  });

  it("testCallLaterResetLater", () => {
    const events: [number, number][] = [];
    const c = new Clock();
    const call = c.callLater(2, (a: number, b: number) => events.push([a, b]), 1, 2);
    c.advance(1);
    call.reset(3);
    expect(call.getTime()).toBe(4);
    c.advance(2);
    expect(events).toEqual([]);
    c.advance(1);
    expect(events).toEqual([[1, 2]]);
  });

  it("testCallLaterResetSooner", () => {
    const events: [number, number][] = [];
    const c = new Clock();
    const call = c.callLater(4, (a: number, b: number) => events.push([a, b]), 1, 2);
    call.reset(3);
    expect(call.getTime()).toBe(3);
    c.advance(3);
    expect(events).toEqual([[1, 2]]);
  });

  it("test_getDelayedCalls / test_getDelayedCallsEmpty", () => {
    const c = new Clock();
    expect(c.getDelayedCalls()).toEqual([]);
    const call = c.callLater(1, () => {});
    const call2 = c.callLater(2, () => {});
    expect(new Set(c.getDelayedCalls())).toEqual(new Set([call, call2]));
    // A copy: changing it does not change the clock.
    c.getDelayedCalls().pop();
    expect(c.getDelayedCalls()).toHaveLength(2);
  });

  it("test_callLaterKeepsCallsOrdered", () => {
    const result: [string, number][] = [];
    const clock = new Clock();
    const logtime = (n: string) => result.push([n, clock.seconds()]);
    const callA = clock.callLater(1.0, logtime, "a");
    callA.reset(3.0);
    clock.callLater(2.0, logtime, "b");
    clock.pump([1, 1, 1]);
    expect(result).toEqual([
      ["b", 2.0],
      ["a", 3.0],
    ]);
  });

  it("test_callLaterResetKeepsCallsOrdered", () => {
    const result: [string, number][] = [];
    const clock = new Clock();
    const logtime = (n: string) => result.push([n, clock.seconds()]);
    const callA = clock.callLater(1.0, logtime, "a");
    clock.callLater(2.0, logtime, "b");
    callA.reset(3.0);
    clock.pump([1, 1, 1]);
    expect(result).toEqual([
      ["b", 2.0],
      ["a", 3.0],
    ]);
  });

  it("test_callLaterResetInsideCallKeepsCallsOrdered", () => {
    const result: [string, number][] = [];
    const clock = new Clock();
    const logtime = (n: string) => result.push([n, clock.seconds()]);
    const callB = clock.callLater(2.0, logtime, "b");
    clock.callLater(1.0, () => callB.reset(3.0));
    clock.callLater(3.0, logtime, "c");
    clock.pump(Array<number>(10).fill(0.5));
    expect(result).toEqual([
      ["c", 3.0],
      ["b", 4.0],
    ]);
  });

  it("runs calls scheduled during an advance in that advance when they are due", () => {
    const clock = new Clock();
    const ran: [string, number][] = [];
    clock.callLater(1, () => {
      ran.push(["first", clock.seconds()]);
      clock.callLater(0, () => ran.push(["zero", clock.seconds()]));
      clock.callLater(2, () => ran.push(["due", clock.seconds()]));
      clock.callLater(10, () => ran.push(["later", clock.seconds()]));
    });
    clock.advance(5);
    // Calls see the time advanced to, as in Twisted's Clock: what they schedule counts from 5.
    expect(ran).toEqual([
      ["first", 5],
      ["zero", 5],
    ]);
    expect(clock.getDelayedCalls().map((c) => c.getTime())).toEqual([7, 15]);
    clock.advance(2);
    expect(ran.at(-1)).toEqual(["due", 7]);
  });

  it("an exception from a call propagates out of advance; later calls stay pending", () => {
    const clock = new Clock();
    const ran: string[] = [];
    clock.callLater(1, () => {
      throw new TestException("boom");
    });
    clock.callLater(2, () => ran.push("second"));
    expect(() => clock.advance(3)).toThrow(TestException);
    expect(ran).toEqual([]);
    clock.advance(0);
    expect(ran).toEqual(["second"]);
  });
});

describe("LoopingCall with a Clock (LoopTests)", () => {
  it("test_defaultClock: the reactor's time by default", () => {
    expect(new LoopingCall(() => {}).clock).toBe(reactorTime);
  });

  it("test_callbackTimeSkips: time spent in the callback skips the intervals it covers", () => {
    const times: number[] = [];
    let callDuration = 2;
    const clock = new Clock();
    const call = new LoopingCall(() => {
      times.push(clock.seconds());
      clock.advance(callDuration);
    }, clock);

    void call.start(0.5);
    expect(times).toEqual([0]);
    expect(clock.seconds()).toBe(callDuration);

    // An iteration was due at 2, the present, not the future: it is skipped.
    clock.advance(0);
    expect(times).toEqual([0]);

    callDuration = 1;
    clock.advance(0.5);
    expect(times).toEqual([0, 2.5]);
    expect(clock.seconds()).toBe(3.5);

    clock.advance(0);
    expect(times).toEqual([0, 2.5]);

    callDuration = 0;
    clock.advance(0.5);
    expect(times).toEqual([0, 2.5, 4]);
    expect(clock.seconds()).toBe(4);
  });

  it("test_reactorTimeSkips: missed intervals are skipped, not run in a burst", () => {
    const times: number[] = [];
    const clock = new Clock();
    const call = new LoopingCall(() => times.push(clock.seconds()), clock);
    void call.start(0.5);
    expect(times).toEqual([0]);
    clock.advance(2);
    expect(times).toEqual([0, 2]);
    clock.advance(1);
    expect(times).toEqual([0, 2, 3]);
    clock.advance(0);
    expect(times).toEqual([0, 2, 3]);
  });

  it("testBasicFunction: runs now and every interval; stop resolves with the LoopingCall", async () => {
    const clock = new Clock();
    const calls: number[] = [];
    const lc = new LoopingCall(() => calls.push(clock.seconds()), clock);
    const d = track(lc.start(0.1));

    clock.pump([0.05, 0.1, 0.1]);
    expect(calls).toHaveLength(3);

    await flush();
    expect(d.settled).toBe(false);
    lc.stop();
    expect(await d.result).toEqual({ value: lc });
    expect(lc.running).toBe(false);
    expect(clock.calls).toEqual([]);
  });

  it("testDelayedStart: now = false waits one interval first", async () => {
    const clock = new Clock();
    const calls: number[] = [];
    const lc = new LoopingCall(() => calls.push(clock.seconds()), clock);
    const d = outcome(lc.start(0.1, false));
    expect(calls).toEqual([]);
    clock.pump([0.05, 0.1, 0.1]);
    expect(calls).toHaveLength(2);
    lc.stop();
    expect(await d).toEqual({ value: lc });
    expect(clock.calls).toEqual([]);
  });

  it("testBadDelay: a negative interval is refused", () => {
    expect(() => new LoopingCall(() => {}, new Clock()).start(-1)).toThrow(RangeError);
  });

  it.each([0, 10])("testStopAtOnce / testStoppingBeforeDelayedStart (interval %s)", async (interval) => {
    const ran: null[] = [];
    const clock = new Clock();
    const lc = new LoopingCall(() => ran.push(null), clock);
    const d = outcome(lc.start(interval, false));
    lc.stop();
    expect(ran).toEqual([]);
    expect(clock.calls).toEqual([]);
    expect(await d).toEqual({ value: lc });
  });

  it("start twice or stop when stopped throws", () => {
    const lc = new LoopingCall(() => {}, new Clock());
    expect(() => lc.stop()).toThrow(/not running/);
    void lc.start(1);
    expect(() => lc.start(1)).toThrow(/already running/);
    lc.stop();
    expect(() => lc.reset()).toThrow(/not running/);
  });

  it("test_reset: reset skips the next iteration and restarts the interval from now", () => {
    const ran: null[] = [];
    const c = new Clock();
    const lc = new LoopingCall(() => ran.push(null), c);
    void lc.start(2, false);
    c.advance(1);
    lc.reset();
    c.advance(1);
    expect(ran).toEqual([]);
    c.advance(1);
    expect(ran).toEqual([null]);
    c.advance(2);
    expect(ran).toEqual([null, null]);
  });

  it("advancing by exactly the interval calls once per interval, even for intervals like 0.1", async () => {
    for (const interval of [0.1, 0.2, 0.3, 0.7, 0.01, 1 / 3]) {
      const clock = new Clock();
      let n = 0;
      const lc = new LoopingCall(() => {
        n += 1;
        // A runaway loop (a call due "now" rescheduled again and again within one advance, as this once did)
        // would never return from advance(): fail the loop instead.
        if (n > 1000) throw new Error("runaway");
      }, clock);
      const d = outcome(lc.start(interval, false));
      for (let i = 0; i < 1000; i++) clock.advance(interval);
      expect(n, `interval ${interval}`).toBe(1000);
      lc.stop();
      expect(await d).toEqual({ value: lc });
    }
  });

  it("interval 0 runs again on every advance(0), as often as the function lets it (testEveryIteration)", async () => {
    const clock = new Clock();
    const ran: null[] = [];
    const lc: LoopingCall = new LoopingCall(() => {
      ran.push(null);
      if (ran.length > 5) lc.stop();
    }, clock);
    const d = outcome(lc.start(0));
    clock.advance(0);
    expect(ran).toHaveLength(6);
    expect(await d).toEqual({ value: lc });
    expect(clock.calls).toEqual([]);
  });
});

describe("LoopingCall failures and promises (ReactorLoopTests)", () => {
  it("testFailure: a throwing function rejects start()'s promise and stops the loop", async () => {
    const clock = new Clock();
    const error = new TestException("bar");
    const lc = new LoopingCall(() => {
      throw error;
    }, clock);
    expect(await outcome(lc.start(0.1))).toEqual({ error });
    expect(lc.running).toBe(false);
    expect(clock.calls).toEqual([]);
  });

  it("testFailAndStop: stop() then throw inside the function still rejects", async () => {
    const clock = new Clock();
    const error = new TestException("bar");
    const lc: LoopingCall = new LoopingCall(() => {
      lc.stop();
      throw error;
    }, clock);
    expect(await outcome(lc.start(0.1))).toEqual({ error });
  });

  it("a throw on a later iteration rejects too", async () => {
    const clock = new Clock();
    let n = 0;
    const lc = new LoopingCall(() => {
      n += 1;
      if (n === 3) throw new TestException("third");
    }, clock);
    const d = outcome(lc.start(1));
    clock.pump([1, 1, 1, 1]);
    expect(n).toBe(3);
    expect(await d).toEqual({ error: new TestException("third") });
    expect(clock.calls).toEqual([]);
  });

  it("testWaitDeferred: the next call waits for the function's promise", async () => {
    const clock = new Clock();
    const starts: number[] = [];
    const lc: LoopingCall = new LoopingCall(() => {
      starts.push(clock.seconds());
      return new Promise<void>((resolve) => clock.callLater(1, resolve)).then(() => lc.stop());
    }, clock);
    const d = track(lc.start(0.2));

    clock.advance(0.2);
    expect(starts).toEqual([0]); // 0.2 was due, but the first call is still pending
    clock.advance(0.8);
    await flush();
    expect(await d.result).toEqual({ value: lc });
    expect(starts).toEqual([0]);
    expect(clock.calls).toEqual([]);
  });

  it("after an async call finishes, the loop resumes at the next interval boundary", async () => {
    const clock = new Clock();
    const starts: number[] = [];
    const lc = new LoopingCall(() => {
      starts.push(clock.seconds());
      if (starts.length === 1) return new Promise<void>((resolve) => clock.callLater(0.7, resolve));
      return undefined;
    }, clock);
    void lc.start(0.5);
    clock.advance(0.7);
    await flush();
    expect(starts).toEqual([0]);
    clock.advance(0.3);
    expect(starts).toEqual([0, 1.0]);
    lc.stop();
  });

  it("stop() while the function's promise is pending resolves when it settles", async () => {
    const clock = new Clock();
    let finish!: () => void;
    const lc = new LoopingCall(() => new Promise<void>((resolve) => (finish = resolve)), clock);
    const d = track(lc.start(1));
    lc.stop();
    await flush();
    expect(d.settled).toBe(false);
    finish();
    expect(await d.result).toEqual({ value: lc });
    clock.advance(10);
    expect(clock.calls).toEqual([]);
  });

  it("reset() while the function's promise is pending does nothing", async () => {
    const clock = new Clock();
    const starts: number[] = [];
    let finish!: () => void;
    const lc = new LoopingCall(() => {
      starts.push(clock.seconds());
      return new Promise<void>((resolve) => (finish = resolve));
    }, clock);
    void lc.start(1);
    lc.reset();
    expect(starts).toEqual([0]);
    expect(clock.calls).toEqual([]);
    finish();
    await flush();
    expect(clock.calls).toHaveLength(1);
    lc.stop();
  });

  it("testFailurePropagation: a rejected promise rejects start()'s promise", async () => {
    const clock = new Clock();
    const error = new TestException("later");
    const lc = new LoopingCall(
      () => new Promise<void>((_resolve, reject) => clock.callLater(0.3, () => reject(error))),
      clock,
    );
    const d = outcome(lc.start(1));
    clock.pump([0.3]);
    expect(await d).toEqual({ error });
    expect(clock.calls).toEqual([]);
  });

  it("testStopAtOnceLater: on the real reactor, stop() from a timed call prevents every later call", async () => {
    const ran: null[] = [];
    const lc = new LoopingCall(() => ran.push(null));
    const d = outcome(lc.start(0.05, false));
    reactorTime.callLater(0, () => lc.stop());
    expect(await d).toEqual({ value: lc });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ran).toEqual([]);
  });

  it("on the real reactor it ticks once per interval, never twice at a boundary", async () => {
    const times: number[] = [];
    const lc: LoopingCall = new LoopingCall(() => {
      times.push(reactorTime.seconds());
      if (times.length === 8) lc.stop();
    });
    expect(await outcome(lc.start(0.05))).toEqual({ value: lc });
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // A late tick shortens the next gap (the loop keeps to its boundaries), but never to a double tick: two calls
    // for one boundary come a timer's early firing apart (well under a millisecond). On a loaded machine a tick can
    // be late by most of an interval, so the bound is small and the interval long.
    expect(Math.min(...gaps)).toBeGreaterThan(0.002);
  });
});

describe("deferLater (DeferLaterTests)", () => {
  it("test_callback: resolves with the function's result after the delay", async () => {
    const clock = new Clock();
    const flag = { flag: true };
    const results: string[] = [];
    const d = track(
      deferLater(clock, 3, () => {
        results.push("called");
        return flag;
      }),
    );
    clock.advance(2);
    expect(results).toEqual([]);
    clock.advance(1);
    expect(results).toEqual(["called"]);
    expect(await d.result).toEqual({ value: flag });
  });

  it("test_errback: rejects if the function throws", async () => {
    const clock = new Clock();
    const error = new TestException();
    const d = outcome(
      deferLater(clock, 1, () => {
        throw error;
      }),
    );
    clock.advance(1);
    expect(await d).toEqual({ error });
  });

  it("test_noCallback: resolves with undefined after the delay", async () => {
    const clock = new Clock();
    const d = track(deferLater(clock, 2.0));
    await flush();
    expect(d.settled).toBe(false);
    clock.advance(2.0);
    expect(await d.result).toEqual({ value: undefined });
  });

  it("waits for a function that returns a promise", async () => {
    const clock = new Clock();
    const d = track(deferLater(clock, 1, () => new Promise<string>((resolve) => clock.callLater(1, resolve, "done"))));
    clock.advance(1);
    await flush();
    expect(d.settled).toBe(false);
    clock.advance(1);
    expect(await d.result).toEqual({ value: "done" });
  });

  it("works on the real reactor", async () => {
    const start = reactorTime.seconds();
    const at = await deferLater(reactorTime, 0.02, () => reactorTime.seconds());
    expect(at! - start).toBeGreaterThanOrEqual(0.02);
  });
});
