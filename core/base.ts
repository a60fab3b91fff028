/**
 * Timed calls (src/twisted/internet/base.py: DelayedCall, ReactorBase.callLater).
 *
 * DelayedCall holds the bookkeeping (time, called, cancelled) and the errors Twisted raises; the scheduler that
 * owns it — the real reactor's timers or the testing Clock — is told when it is cancelled or moved.
 */
import { AlreadyCalled, AlreadyCancelled } from "./errors.ts";
import type { IDelayedCall, IReactorTime } from "./interfaces.ts";
import { globalLogPublisher, Logger } from "./logger.ts";

/** What a DelayedCall tells the scheduler that owns it. */
export interface DelayedCallOwner {
  /** The call was cancelled: forget it. */
  cancelled(call: DelayedCall): void;
  /** The call's time changed: re-arm it. */
  moved(call: DelayedCall): void;
}

/**
 * A call scheduled for later (twisted.internet.base.DelayedCall). Returned by `callLater`.
 * `called` is set before the function runs, so the function may inspect it; cancelling, resetting or delaying
 * after it ran throws AlreadyCalled, after it was cancelled AlreadyCancelled.
 */
export class DelayedCall implements IDelayedCall {
  /** True once it has started running. */
  called = false;
  /** True once cancelled. */
  cancelled = false;

  constructor(
    /** Absolute time (in the owner's seconds) at which it runs. */
    public time: number,
    readonly func: (...args: never[]) => unknown,
    readonly args: readonly unknown[],
    private readonly owner: DelayedCallOwner,
    private readonly now: () => number,
  ) {}

  getTime(): number {
    return this.time;
  }

  private check(): void {
    if (this.cancelled) throw new AlreadyCancelled();
    if (this.called) throw new AlreadyCalled();
  }

  cancel(): void {
    this.check();
    this.cancelled = true;
    this.owner.cancelled(this);
  }

  reset(secondsFromNow: number): void {
    this.check();
    this.time = this.now() + secondsFromNow;
    this.owner.moved(this);
  }

  delay(secondsLater: number): void {
    this.check();
    this.time += secondsLater;
    this.owner.moved(this);
  }

  active(): boolean {
    return !(this.cancelled || this.called);
  }

  /** Runs the call: marks it called, then calls the function. Scheduler use only. */
  run(): void {
    this.called = true;
    (this.func as (...args: unknown[]) => unknown)(...this.args);
  }

  toString(): string {
    const state = this.cancelled ? "cancelled" : this.called ? "called" : `at ${this.time.toFixed(3)}`;
    return `<DelayedCall ${this.func.name || "anonymous"} ${state}>`;
  }
}

/** setTimeout's limit: longer delays are split into several timers. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where errors of timed calls are logged. */
const timeLog = new Logger("wirescope.core.time", null, globalLogPublisher);

/**
 * The real reactor's time: `seconds()` is monotonic (performance clock, in seconds since the epoch at start).
 *
 * Like Twisted's reactor (base.py: ReactorBase.runUntilCurrent) it keeps the pending calls in time order and arms
 * one Node timer for the earliest. When the timer fires, every call due by then runs, earliest first (equal
 * times in the order they were scheduled); calls scheduled meanwhile wait for a later turn, so a chain of
 * `callLater(0)` cannot starve the event loop. A call never runs before its time: Node may fire a timer a
 * fraction of a millisecond early, and the timer is then re-armed. Delays longer than setTimeout's limit
 * (2^31-1 ms, about 24.8 days) are waited out in several timers.
 *
 * An exception thrown by a call does not stop the others, nor the process: it is logged as a critical event
 * "Unhandled error in a timed call" with the error as `log_failure` (Twisted's runUntilCurrent does the same).
 */
export class ReactorTime implements IReactorTime {
  /** Pending calls, sorted by time; stable for equal times. */
  private readonly queue: DelayedCall[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The time the armed timer is for: it is left alone while the earliest call keeps that time. */
  private timerFor = 0;
  private readonly owner: DelayedCallOwner = {
    cancelled: (call) => {
      this.remove(call);
      this.arm();
    },
    moved: (call) => {
      this.remove(call);
      this.insert(call);
      this.arm();
    },
  };

  seconds(): number {
    return (performance.timeOrigin + performance.now()) / 1000;
  }

  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): DelayedCall {
    if (!(delay >= 0)) throw new RangeError(`callLater: delay must be a non-negative number of seconds, got ${delay}`);
    const call = new DelayedCall(this.seconds() + delay, fn as (...args: never[]) => unknown, args, this.owner, () =>
      this.seconds(),
    );
    this.insert(call);
    this.arm();
    return call;
  }

  /** The pending calls, earliest first. */
  getDelayedCalls(): DelayedCall[] {
    return [...this.queue];
  }

  /** Inserts after every call due at the same time or earlier. */
  private insert(call: DelayedCall): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.time > call.time) i -= 1;
    this.queue.splice(i, 0, call);
  }

  private remove(call: DelayedCall): void {
    const i = this.queue.indexOf(call);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /** (Re-)arms the one timer for the earliest pending call, or clears it when nothing is pending. */
  private arm(): void {
    const next = this.queue[0];
    if (this.timer !== null && next !== undefined && next.time === this.timerFor) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (next === undefined) return;
    // Math.ceil: a timer shorter than the time left would only fire early and be re-armed.
    const ms = Math.ceil(Math.max(0, (next.time - this.seconds()) * 1000));
    this.timerFor = next.time;
    this.timer = setTimeout(() => this.runUntilCurrent(), Math.min(ms, MAX_TIMER_MS));
  }

  /** Runs the calls due now, earliest first, then re-arms for the rest. */
  private runUntilCurrent(): void {
    this.timer = null;
    const now = this.seconds();
    while (this.queue.length > 0 && this.queue[0]!.time <= now) {
      const call = this.queue.shift()!;
      try {
        call.run();
      } catch (err) {
        timeLog.failure("Unhandled error in a timed call {call}", err, { call: call.toString() });
      }
    }
    this.arm();
  }
}

/** The process-wide real clock; the reactor's `callLater`/`seconds` are this object's. */
export const reactorTime = new ReactorTime();
