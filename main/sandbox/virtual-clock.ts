/**
 * The virtual clock of a decode's sandbox worker: reactor time that moves only when the engine says so, so that a
 * protocol run over a recorded conversation sees the original timing and two runs give the same result.
 *
 * How a group gets one (the smallest change that keeps everything else as it was): `SandboxHost.createGroup(label,
 * { virtualClock: true })` starts its worker with `workerData.virtualClock`; the worker's runtime then installs a
 * VirtualClock over the worker's own copy of the core's `reactorTime`, before anything is scheduled. From then on
 * everything built on reactor time in that worker — `reactor.callLater`, `reactor.seconds()`, LoopingCall,
 * TimeoutMixin, ReconnectingClientFactory's backoff — runs on the core's `Clock` (core/task.ts,
 * twisted.internet.task.Clock) instead of the wall clock. Node's own timers (`setTimeout`) stay real: they are not
 * reactor time, and a decode does not wait for them.
 *
 * The engine drives it with two operations (messages.ts): `setClock` at the start of a run, then `advance` to each
 * recorded event's time before delivering the event. Unlike Twisted's `Clock.advance`, which runs every due call at
 * the time it advanced to, `advanceTo` steps through the due calls one time at a time, so a call scheduled for
 * 0.5 s later runs when `seconds()` reads exactly that time — its log lines fall where they would have live.
 */
import type { ReactorTime } from "../../core/base.ts";
import { Clock } from "../../core/task.ts";

/** A virtual clock over one worker's reactor time. Owned by the worker's SandboxRuntime. */
export class VirtualClock {
  private readonly clock = new Clock();

  /**
   * @param moved called each time the clock reads a new time, before any call due at that time runs (the runtime
   *   tells the main thread, so that what follows is placed at that time on the timeline).
   */
  constructor(private readonly moved: (seconds: number) => void) {}

  /**
   * Makes `time` (the worker core's `reactorTime`) read and schedule on this clock. Called once, before any user
   * code runs; the runtime's own wrapping of `callLater` (which attributes each call to its connection) goes on top.
   */
  install(time: ReactorTime): void {
    const clock = this.clock;
    time.seconds = () => clock.seconds();
    time.callLater = (delay, fn, ...args) => {
      if (!(delay >= 0))
        throw new RangeError(`callLater: delay must be a non-negative number of seconds, got ${delay}`);
      return clock.callLater(delay, fn, ...args);
    };
    time.getDelayedCalls = () => clock.getDelayedCalls();
  }

  /** The time now, in seconds. */
  seconds(): number {
    return this.clock.seconds();
  }

  /**
   * Starts a new run at `seconds`: every pending call (of a previous run) is dropped, and the clock reads `seconds`
   * even if that is earlier than now.
   */
  set(seconds: number): void {
    for (const call of this.clock.getDelayedCalls()) call.cancel();
    this.clock.rightNow = seconds;
    this.moved(seconds);
  }

  /**
   * Moves to `target` seconds (never backwards), running every call due by then in time order, each at its own
   * time; calls they schedule for a time not after `target` run too. A call that throws is the runtime's to report
   * (its wrapper catches).
   */
  advanceTo(target: number): void {
    const clock = this.clock;
    for (;;) {
      const next = clock.calls[0];
      if (next === undefined || next.getTime() > target) break;
      this.moveTo(next.getTime());
      clock.advance(0);
    }
    this.moveTo(target);
    clock.advance(0);
  }

  private moveTo(seconds: number): void {
    if (seconds <= this.clock.rightNow) return;
    this.clock.rightNow = seconds;
    this.moved(seconds);
  }
}
