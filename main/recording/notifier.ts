/**
 * Batched change notices: "session S now has N events", at most once per interval, never one per chunk. The
 * renderer then fetches the rows it shows by range. One notifier serves every session of the engine.
 */
import type { IDelayedCall, IReactorTime } from "../../core/interfaces.ts";
import { reactor } from "../../core/reactor.ts";

/** One session's latest event count. */
export interface SessionChange {
  session: string;
  count: number;
}

/**
 * Coalesces `touch` calls into `emit(batch)` calls: at most one per `intervalMs`, each with the latest count of
 * every session touched since the previous one. A touch after a quiet interval is emitted on the next timer turn
 * (same-tick touches still batch); while touches keep coming, the pending emit carries the last of them, so the
 * final state is always emitted. The engine owns it and disposes it at shutdown.
 */
export class ChangeNotifier {
  private readonly latest = new Map<string, number>();
  private pending: IDelayedCall | null = null;
  private lastEmit = -Infinity;
  private disposed = false;

  constructor(
    /** Least time between two emits, in ms. */
    readonly intervalMs = 50,
    /** Receives each batch (sessions in first-touched order). Must not throw. */
    private readonly emit: (batch: SessionChange[]) => void,
    /** Timing: the reactor, or a core Clock in tests. */
    private readonly clock: IReactorTime = reactor,
  ) {}

  /** Called by a recorder on every append: O(1), one Map write; schedules an emit if none is pending. */
  touch(session: string, count: number): void {
    if (this.disposed) return;
    this.latest.set(session, count);
    if (this.pending !== null) return;
    const wait = Math.max(0, this.lastEmit + this.intervalMs / 1000 - this.clock.seconds());
    this.pending = this.clock.callLater(wait, this.fire);
  }

  /** Stops: drops what is pending and ignores later touches. Idempotent. */
  dispose(): void {
    this.disposed = true;
    if (this.pending?.active()) this.pending.cancel();
    this.pending = null;
    this.latest.clear();
  }

  private readonly fire = (): void => {
    this.pending = null;
    this.lastEmit = this.clock.seconds();
    const batch: SessionChange[] = [];
    for (const [session, count] of this.latest) batch.push({ session, count });
    this.latest.clear();
    this.emit(batch);
  };
}
