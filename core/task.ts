/**
 * Scheduling utilities (src/twisted/internet/task.py): Clock (a deterministic IReactorTime for tests),
 * LoopingCall, deferLater.
 */
import { DelayedCall, type DelayedCallOwner, reactorTime } from "./base.ts";
import type { IDelayedCall, IReactorTime } from "./interfaces.ts";

/**
 * A reactor clock that only moves when told (twisted.internet.task.Clock). Use it in tests in place of the
 * reactor: `clock.advance(2.7)` runs every call due by then, including calls scheduled while advancing.
 */
export class Clock implements IReactorTime {
  /** The current time, in seconds. Starts at 0. */
  rightNow = 0;
  /** Pending calls, sorted by time (stable for equal times). */
  calls: DelayedCall[] = [];

  private readonly owner: DelayedCallOwner = {
    cancelled: (call) => {
      this.calls = this.calls.filter((c) => c !== call);
    },
    moved: () => this.sort(),
  };

  seconds(): number {
    return this.rightNow;
  }

  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): DelayedCall {
    const call = new DelayedCall(this.rightNow + delay, fn as (...args: never[]) => unknown, args, this.owner, () =>
      this.seconds(),
    );
    this.calls.push(call);
    this.sort();
    return call;
  }

  getDelayedCalls(): DelayedCall[] {
    return [...this.calls];
  }

  /** Moves time forward by `amount` seconds and runs every call now due, in time order. */
  advance(amount: number): void {
    this.rightNow += amount;
    while (this.calls.length > 0 && this.calls[0]!.getTime() <= this.seconds()) {
      const call = this.calls.shift()!;
      call.run();
    }
  }

  /** Advances by each amount in turn (Twisted's `pump`). */
  pump(timings: readonly number[]): void {
    for (const amount of timings) this.advance(amount);
  }

  private sort(): void {
    this.calls.sort((a, b) => a.getTime() - b.getTime());
  }
}

/**
 * Calls a function every `interval` seconds (twisted.internet.task.LoopingCall). If the function returns a
 * promise, the next call waits for it. If it throws or rejects, the loop stops and `start()`'s promise rejects.
 * Missed intervals are skipped (not run in a burst), as in Twisted.
 */
export class LoopingCall {
  /** The clock to schedule on; the reactor by default, a Clock in tests. */
  clock: IReactorTime;
  running = false;
  interval: number | null = null;
  /** The time the loop started. */
  private startTime = 0;
  private call: IDelayedCall | null = null;
  private settle: { resolve: (self: LoopingCall) => void; reject: (err: unknown) => void } | null = null;

  constructor(
    readonly f: () => unknown,
    clock?: IReactorTime,
  ) {
    this.clock = clock ?? reactorTime;
  }

  /**
   * Starts the loop. With `now` true (the default) the first call is made at once. The returned promise
   * resolves with this LoopingCall when `stop()` is called, or rejects with the function's error.
   */
  start(interval: number, now = true): Promise<LoopingCall> {
    if (this.running) throw new Error("Tried to start an already running LoopingCall.");
    if (interval < 0) throw new RangeError("interval must be >= 0");
    this.running = true;
    this.interval = interval;
    this.startTime = this.clock.seconds();
    const done = new Promise<LoopingCall>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    if (now) this.runOnce();
    else this.scheduleFrom(this.startTime);
    return done;
  }

  /**
   * Stops the loop. `start()`'s promise resolves with this LoopingCall at once if a call was pending; if the
   * function is running or its promise is pending (stop() called from inside it), the promise settles when that
   * call finishes: resolved, or rejected if it throws or rejects (Twisted's LoopingCall.stop).
   */
  stop(): void {
    if (!this.running) throw new Error("Tried to stop a LoopingCall that was not running.");
    this.running = false;
    if (this.call !== null) {
      if (this.call.active()) this.call.cancel();
      this.call = null;
      this.finish();
    }
  }

  /**
   * Skips the next iteration and restarts the interval from now: the function next runs `interval` seconds from
   * now. Does nothing while the function (or its promise) is in progress (Twisted's LoopingCall.reset).
   */
  reset(): void {
    if (!this.running) throw new Error("Tried to reset a LoopingCall that was not running.");
    if (this.call === null) return;
    if (this.call.active()) this.call.cancel();
    this.call = null;
    this.startTime = this.clock.seconds();
    this.scheduleFrom(this.startTime);
  }

  /** Resolves `start()`'s promise with this LoopingCall. */
  private finish(): void {
    const settle = this.settle;
    this.settle = null;
    settle?.resolve(this);
  }

  private fail(err: unknown): void {
    this.running = false;
    this.call = null;
    const settle = this.settle;
    this.settle = null;
    settle?.reject(err);
  }

  /** One iteration (Twisted's `__call__`): run the function, then schedule the next one or settle. */
  private runOnce(): void {
    this.call = null;
    let result: unknown;
    try {
      result = this.f();
    } catch (err) {
      this.fail(err);
      return;
    }
    const next = (): void => {
      if (this.running) this.scheduleFrom(this.clock.seconds());
      else this.finish();
    };
    if (isPromiseLike(result)) result.then(next, (err: unknown) => this.fail(err));
    else next();
  }

  /**
   * Schedules the next call at the end of the current interval, counted from `startTime`; missed intervals are
   * skipped. This is Twisted's `_scheduleFrom`/`howLong`, kept relative to `now` on purpose: when the time left
   * is too small to move `now` in floating point, it waits a whole interval instead of scheduling a call that is
   * due at once (which would make a Clock run it again and again within one `advance`).
   */
  private scheduleFrom(now: number): void {
    const interval = this.interval!;
    let delay = 0;
    if (interval !== 0) {
      const runningFor = now - this.startTime;
      delay = interval - (runningFor % interval);
      if (now === now + delay) delay = interval;
    }
    this.call = this.clock.callLater(delay, () => this.runOnce());
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Resolves with `fn()`'s result after `delay` seconds on `clock` (twisted.internet.task.deferLater). */
export function deferLater<T>(clock: IReactorTime, delay: number, fn?: () => T | Promise<T>): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    clock.callLater(delay, () => {
      try {
        Promise.resolve(fn?.()).then(resolve, reject);
      } catch (err) {
        reject(err);
      }
    });
  });
}
