/**
 * Timed calls (src/twisted/internet/base.py: DelayedCall, ReactorBase.callLater).
 *
 * DelayedCall holds the bookkeeping (time, called, cancelled) and the errors Twisted raises; the scheduler that
 * owns it — the real reactor's timers or the testing Clock — is told when it is cancelled or moved.
 */
import { AlreadyCalled, AlreadyCancelled } from "./errors.ts";
import type { IDelayedCall, IReactorTime } from "./interfaces.ts";

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

/**
 * The real reactor's time: `seconds()` is monotonic (performance clock, in seconds since the epoch at start),
 * and each DelayedCall is backed by a Node timer. Timers are unref'd only if the call asks (see `unref`).
 */
export class ReactorTime implements IReactorTime {
  private readonly pending = new Map<DelayedCall, NodeJS.Timeout>();

  seconds(): number {
    return (performance.timeOrigin + performance.now()) / 1000;
  }

  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): DelayedCall {
    if (!(delay >= 0)) throw new RangeError(`callLater: delay must be a non-negative number of seconds, got ${delay}`);
    const owner: DelayedCallOwner = {
      cancelled: (call) => this.disarm(call),
      moved: (call) => this.arm(call),
    };
    const call = new DelayedCall(this.seconds() + delay, fn as (...args: never[]) => unknown, args, owner, () =>
      this.seconds(),
    );
    this.arm(call);
    return call;
  }

  getDelayedCalls(): DelayedCall[] {
    return [...this.pending.keys()];
  }

  private disarm(call: DelayedCall): void {
    const timer = this.pending.get(call);
    if (timer !== undefined) clearTimeout(timer);
    this.pending.delete(call);
  }

  private arm(call: DelayedCall): void {
    this.disarm(call);
    const ms = Math.max(0, (call.time - this.seconds()) * 1000);
    const timer = setTimeout(
      () => {
        this.pending.delete(call);
        if (!call.active()) return;
        // A long delay was split, or the clock fired early: wait for the rest.
        if (call.time - this.seconds() > 0.001) return this.arm(call);
        call.run();
      },
      Math.min(Math.ceil(ms), MAX_TIMER_MS),
    );
    this.pending.set(call, timer);
  }
}

/** The process-wide real clock; the reactor's `callLater`/`seconds` are this object's. */
export const reactorTime = new ReactorTime();
