/**
 * DelayedCall and callLater, ported from src/twisted/test/test_internet.py (TimeTests, DelayedTests) and the
 * DelayedCall parts of test_task.py's ClockTests. Every case runs against the real ReactorTime (real Node
 * timers, delays of tens of milliseconds; the assertions are about order and never running early, not about
 * how late a timer fires) and against the testing Clock.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { DelayedCall, ReactorTime } from "./base.ts";
import { AlreadyCalled, AlreadyCancelled } from "./errors.ts";
import type { IReactorTime } from "./interfaces.ts";
import { formatEvent, globalLogPublisher, type LogEvent } from "./logger.ts";
import { Clock } from "./task.ts";

/** A scheduler under test and a way to let `units` of its time pass. */
interface Subject {
  time: IReactorTime;
  /** Lets time pass: advances a Clock, sleeps for real on the reactor. */
  pass(units: number): Promise<void>;
  /** Seconds per unit: 1 on a Clock, 20 ms for real. */
  unit: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const subjects: [string, () => Subject][] = [
  [
    "ReactorTime (real timers)",
    () => {
      const unit = 0.05;
      const time = new ReactorTime();
      return {
        time,
        unit,
        // Like Clock.advance: wait until `seconds()` reaches the target, then until every call due by then ran.
        // Checks that something has not run yet are sound because a call never runs early; they only need the
        // event loop not to stall for half a unit (25 ms).
        pass: async (units) => {
          const target = time.seconds() + units * unit;
          while (time.seconds() < target) await sleep((target - time.seconds()) * 1000);
          while (time.getDelayedCalls().some((c) => c.getTime() <= target)) await sleep(1);
        },
      };
    },
  ],
  [
    "Clock",
    () => {
      const clock = new Clock();
      return {
        time: clock,
        unit: 1,
        pass: (units) => {
          clock.advance(units);
          return Promise.resolve();
        },
      };
    },
  ],
];

describe.each(subjects)("callLater on %s", (_name, make) => {
  let subject: Subject;
  const u = (units: number) => units * subject.unit;
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    // Leave no timer of ours behind (Twisted's tearDown cancels what is left).
    for (const call of subject.time.getDelayedCalls()) call.cancel();
    for (const f of cleanups.splice(0)) f();
  });

  it("returns an active DelayedCall due `delay` seconds from now", () => {
    subject = make();
    const before = subject.time.seconds();
    const call = subject.time.callLater(u(10), () => {});
    const after = subject.time.seconds();
    expect(call).toBeInstanceOf(DelayedCall);
    expect(call.active()).toBe(true);
    expect(call.getTime()).toBeGreaterThanOrEqual(before + u(10));
    expect(call.getTime()).toBeLessThanOrEqual(after + u(10));
    expect(subject.time.getDelayedCalls()).toEqual([call]);
  });

  it("runs the function once with its arguments, then is no longer active", async () => {
    subject = make();
    const seen: [number, string][] = [];
    const call = subject.time.callLater(u(1), (a: number, b: string) => seen.push([a, b]), 1, "two");
    await subject.pass(0.5);
    expect(seen).toEqual([]);
    await subject.pass(1);
    expect(seen).toEqual([[1, "two"]]);
    expect(call.active()).toBe(false);
    expect((call as DelayedCall).called).toBe(true);
    expect(subject.time.getDelayedCalls()).toEqual([]);
    await subject.pass(2);
    expect(seen).toHaveLength(1);
  });

  it("never runs a call before its time", async () => {
    subject = make();
    const early: number[] = [];
    for (let i = 0; i < 20; i++) {
      // Node times a timer from the event loop's cached "now", so work done earlier in the same turn makes the
      // timer fire up to that long before the reactor's clock reaches the call's time.
      busyWait(0.3);
      const call = subject.time.callLater(u(0.1 + (i % 5) * 0.1), () => {
        const lateBy = subject.time.seconds() - call.getTime();
        if (lateBy < 0) early.push(lateBy);
      });
    }
    await subject.pass(1);
    expect(subject.time.getDelayedCalls()).toEqual([]);
    expect(early).toEqual([]);
  });

  it("test_cancelDelayedCall: a cancelled call does not run and leaves getDelayedCalls", async () => {
    subject = make();
    const ran: string[] = [];
    const call = subject.time.callLater(u(0.5), () => ran.push("cancelled"));
    subject.time.callLater(u(1), () => ran.push("kept"));
    call.cancel();
    expect(call.active()).toBe(false);
    expect((call as DelayedCall).cancelled).toBe(true);
    expect(subject.time.getDelayedCalls()).toHaveLength(1);
    await subject.pass(1);
    expect(ran).toEqual(["kept"]);
  });

  it("test_cancelCancelledDelayedCall: cancel, reset and delay after cancel throw AlreadyCancelled", () => {
    subject = make();
    const call = subject.time.callLater(u(1), () => {});
    call.cancel();
    expect(() => call.cancel()).toThrow(AlreadyCancelled);
    expect(() => call.reset(u(1))).toThrow(AlreadyCancelled);
    expect(() => call.delay(u(1))).toThrow(AlreadyCancelled);
  });

  it("test_cancelCalledDelayedCallAsynchronous: cancel, reset and delay after it ran throw AlreadyCalled", async () => {
    subject = make();
    const call = subject.time.callLater(u(0.5), () => {});
    await subject.pass(1);
    expect(() => call.cancel()).toThrow(AlreadyCalled);
    expect(() => call.reset(u(1))).toThrow(AlreadyCalled);
    expect(() => call.delay(u(1))).toThrow(AlreadyCalled);
  });

  it("test_cancelCalledDelayedCallSynchronous: `called` is set before the function runs", async () => {
    subject = make();
    const inside: unknown[] = [];
    const call: DelayedCall = subject.time.callLater(u(0.5), () => {
      inside.push(call.called, call.active());
      try {
        call.cancel();
      } catch (err) {
        inside.push(err);
      }
    }) as DelayedCall;
    await subject.pass(1);
    expect(inside).toHaveLength(3);
    expect(inside.slice(0, 2)).toEqual([true, false]);
    expect(inside[2]).toBeInstanceOf(AlreadyCalled);
  });

  it("testCallLaterDelayAndReset: reset is from now, delay from the current time", async () => {
    subject = make();
    const ran: [string, number][] = [];
    const start = subject.time.seconds();
    const ireset = subject.time.callLater(u(2), () => ran.push(["reset", subject.time.seconds() - start]));
    const idelay = subject.time.callLater(u(3), () => ran.push(["delay", subject.time.seconds() - start]));
    await subject.pass(1);
    expect(ran).toEqual([]);

    const before = subject.time.seconds();
    const delayWasDue = idelay.getTime();
    ireset.reset(u(2)); // now + 2 ≈ 3
    idelay.delay(u(3)); // 3 + 3 = 6
    expect(ireset.getTime()).toBeGreaterThanOrEqual(before + u(2));
    expect(ireset.getTime()).toBeLessThanOrEqual(subject.time.seconds() + u(2));
    expect(idelay.getTime()).toBeCloseTo(delayWasDue + u(3), 9);
    expect(subject.time.getDelayedCalls()).toEqual([ireset, idelay]);

    await subject.pass(1);
    expect(ran).toEqual([]);
    await subject.pass(1.5);
    expect(ran.map(([name]) => name)).toEqual(["reset"]);
    expect(ran[0]![1]).toBeGreaterThanOrEqual(u(3));
    await subject.pass(3);
    expect(ran.map(([name]) => name)).toEqual(["reset", "delay"]);
    expect(ran[1]![1]).toBeGreaterThanOrEqual(u(6));
  });

  it("testCallLaterResetSooner: reset can move a call earlier", async () => {
    subject = make();
    const ran: string[] = [];
    const late = subject.time.callLater(u(4), () => ran.push("moved"));
    subject.time.callLater(u(2), () => ran.push("fixed"));
    late.reset(u(1));
    await subject.pass(1.5);
    expect(ran).toEqual(["moved"]);
    await subject.pass(1);
    expect(ran).toEqual(["moved", "fixed"]);
  });

  it("runs calls in time order, equal times in the order scheduled", async () => {
    subject = make();
    const ran: string[] = [];
    subject.time.callLater(u(3), () => ran.push("c"));
    subject.time.callLater(u(1), () => ran.push("a1"));
    subject.time.callLater(u(2), () => ran.push("b"));
    subject.time.callLater(u(1), () => ran.push("a2"));
    subject.time.callLater(u(0), () => ran.push("now"));
    await subject.pass(4);
    expect(ran).toEqual(["now", "a1", "a2", "b", "c"]);
  });

  it("test_callLaterKeepsCallsOrdered: a call reset later runs after one scheduled in between", async () => {
    subject = make();
    const ran: string[] = [];
    const a = subject.time.callLater(u(1), () => ran.push("a"));
    a.reset(u(3));
    subject.time.callLater(u(2), () => ran.push("b"));
    await subject.pass(4);
    expect(ran).toEqual(["b", "a"]);
  });

  it("test_callLaterResetInsideCallKeepsCallsOrdered", async () => {
    subject = make();
    const ran: string[] = [];
    const b = subject.time.callLater(u(2), () => ran.push("b"));
    subject.time.callLater(u(1), () => b.reset(u(3))); // b now due at 4
    subject.time.callLater(u(3), () => ran.push("c"));
    // Half-unit steps, as Twisted's pump([0.5] * 10): a Clock's calls see the time advanced to, not their own.
    const seen: string[][] = [];
    for (let i = 0; i < 10; i++) {
      await subject.pass(0.5);
      seen.push([...ran]);
    }
    expect(seen[4]).toEqual([]); // at 2.5
    expect(seen[5]).toEqual(["c"]); // at 3
    expect(seen[7]).toEqual(["c", "b"]); // at 4
  });

  it("testGetDelayedCalls (DelayedTests): pending calls are listed until they run or are cancelled", async () => {
    subject = make();
    const timers = new Map<number, ReturnType<IReactorTime["callLater"]>>();
    const missing: number[] = [];
    let counter = 0;
    let done = false;
    const checkTimers = () => {
      const listed = subject.time.getDelayedCalls();
      for (const [tag, call] of timers) if (!listed.includes(call)) missing.push(tag);
    };
    const callback = (tag: number) => {
      timers.delete(tag);
      checkTimers();
    };
    const addTimer = (when: number, cb: (tag: number) => void) => {
      timers.set(counter, subject.time.callLater(u(when / 10), cb, counter));
      counter += 1;
      checkTimers();
    };
    const addCallback = (tag: number) => {
      callback(tag);
      addTimer(15, callback);
    };
    const finish = (tag: number) => {
      done = true;
      callback(tag);
    };

    checkTimers();
    addTimer(35, finish);
    addTimer(20, callback);
    addTimer(30, callback);
    const which = counter;
    addTimer(29, callback);
    addTimer(25, addCallback);
    addTimer(26, callback);
    timers.get(which)!.cancel();
    timers.delete(which);
    checkTimers();

    await subject.pass(3.6);
    expect(done).toBe(true);
    expect(missing).toEqual([]);
    // The timer addCallback added at 2.5 (due at 4.0) is the only one left.
    expect([...timers.values()]).toEqual(subject.time.getDelayedCalls());
    expect(timers.size).toBe(1);
  });

  it("test_active: active() is false once the call has run", async () => {
    subject = make();
    let activeInside: boolean | null = null;
    const dcall = subject.time.callLater(u(0.5), () => {
      activeInside = dcall.active();
    });
    expect(dcall.active()).toBe(true);
    await subject.pass(1);
    expect(activeInside).toBe(false);
    expect(dcall.active()).toBe(false);
  });
});

describe("ReactorTime specifics", () => {
  const time = new ReactorTime();
  afterEach(() => {
    for (const call of time.getDelayedCalls()) call.cancel();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("seconds() is wall-clock-based and monotonic", () => {
    const a = time.seconds();
    const b = time.seconds();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - Date.now() / 1000)).toBeLessThan(5);
  });

  it("rejects a negative or NaN delay", () => {
    expect(() => time.callLater(-1, () => {})).toThrow(RangeError);
    expect(() => time.callLater(Number.NaN, () => {})).toThrow(RangeError);
  });

  it("a call scheduled from a running call with delay 0 runs on a later turn, not in the same pass", async () => {
    const ran: string[] = [];
    time.callLater(0, () => {
      ran.push("first");
      time.callLater(0, () => ran.push("scheduled inside"));
      queueMicrotask(() => ran.push("microtask after first"));
    });
    await vi.waitFor(() => expect(ran).toHaveLength(3));
    expect(ran).toEqual(["first", "microtask after first", "scheduled inside"]);
  });

  it("a throwing call does not stop the calls due with it; its error is logged, as in Twisted", async () => {
    const logged: LogEvent[] = [];
    const remove = globalLogPublisher.addObserver((e) => logged.push(e));
    try {
      const ran: string[] = [];
      const boom = new Error("boom");
      time.callLater(0.01, function explode() {
        throw boom;
      });
      time.callLater(0.01, () => ran.push("after"));
      time.callLater(0.03, () => ran.push("later"));
      await vi.waitFor(() => expect(ran).toEqual(["after", "later"]));
      const failures = logged.filter((e) => e.log_failure === boom);
      expect(failures).toHaveLength(1);
      expect(failures[0]!.log_level).toBe("critical");
      expect(formatEvent(failures[0]!)).toMatch(/Unhandled error in a timed call <DelayedCall explode/);
    } finally {
      remove();
    }
  });

  it("a delay over 2^31-1 ms is pending, cancellable, and arms no timer past Node's limit (real timers)", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const timeoutsBefore = activeTimeouts();
      const thirtyDays = 30 * 24 * 3600;
      const call = time.callLater(thirtyDays, () => {
        throw new Error("must not run");
      });
      expect(time.getDelayedCalls()).toEqual([call]);
      expect(call.getTime() - time.seconds()).toBeGreaterThan(thirtyDays - 1);
      expect(activeTimeouts()).toBe(timeoutsBefore + 1);

      // Node would clamp an oversized timer to 1 ms and warn (TimeoutOverflowWarning) on the next tick.
      await sleep(20);
      expect(warnings.filter((w) => w.name === "TimeoutOverflowWarning")).toEqual([]);
      expect(call.active()).toBe(true);

      call.cancel();
      expect(time.getDelayedCalls()).toEqual([]);
      expect(activeTimeouts()).toBe(timeoutsBefore);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a 30-day call is waited out in timers of at most 2^31-1 ms and runs once, on time (fake timers)", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const armed = vi.spyOn(globalThis, "setTimeout");
    const fakeTime = new ReactorTime();
    const ran: number[] = [];
    const thirtyDaysMs = 30 * 24 * 3600 * 1000;
    const call = fakeTime.callLater(thirtyDaysMs / 1000, () => ran.push(fakeTime.seconds()));
    const maxTimer = 2 ** 31 - 1;

    expect(armed.mock.calls.map((c) => c[1])).toEqual([maxTimer]);
    vi.advanceTimersByTime(maxTimer - 1);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(1);
    // The first timer ran out; the call is still pending, on a second timer for the rest.
    expect(ran).toEqual([]);
    expect(call.active()).toBe(true);
    expect(fakeTime.getDelayedCalls()).toEqual([call]);
    const delays = armed.mock.calls.map((c) => c[1]);
    expect(delays).toHaveLength(2);
    // The rest, rounded up (the absolute times are floats of about 1.8e9 s).
    expect(delays[1]).toBeGreaterThanOrEqual(thirtyDaysMs - maxTimer);
    expect(delays[1]).toBeLessThanOrEqual(thirtyDaysMs - maxTimer + 1);

    vi.advanceTimersByTime(thirtyDaysMs - maxTimer - 1);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toBeGreaterThanOrEqual(call.getTime());
    expect(fakeTime.getDelayedCalls()).toEqual([]);
    expect(armed).toHaveBeenCalledTimes(2);
  });
});

/** Blocks the event loop for `ms` milliseconds. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** The number of live Node timers in this process. */
function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}
