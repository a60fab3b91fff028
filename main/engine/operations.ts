/**
 * The long commands running under an `operation` id the caller gave (importCapture, exportPcapng, decode): what
 * lets the caller watch them (onProgress events, throttled) and stop them (`cancel`). A command run without an id
 * still stops at the engine's own signal, and reports nothing.
 *
 * A cancelled command stops at its next check between blocks (stop-check.ts) by throwing CancelledError; the
 * command's own cleanup (a partial file removed, a session dropped) runs as for any error.
 */
import type { EventSink } from "../../preload/contract.ts";
import { EngineError } from "./errors.ts";

/** Ids cancelled before their command arrived that are remembered (the oldest is forgotten past this). */
const MAX_CANCELLED_EARLY = 64;

/** Least time between two onProgress events of one operation, besides its first and its last. */
export const PROGRESS_INTERVAL_MS = 250;

/** What a long command gets to report progress and to see a cancel. */
export interface Operation {
  /** Aborted by `cancel` (reason CancelledError) or by the engine's owner (its own reason). */
  readonly signal: AbortSignal | undefined;
  /** `done` of `total` (null: unknown) so far; sent as onProgress when the last was long enough ago, or when done. */
  report(done: number, total: number | null): void;
}

/** Why a command given to `cancel` stopped. */
export class CancelledError extends EngineError {
  constructor() {
    super("cancelled", "Cancelled before it was done: nothing was kept.");
  }
}

/** An operation id used by a command still running. */
export class OperationInUseError extends EngineError {
  constructor(operation: string) {
    super("operation-in-use", `An operation named '${operation}' is still running: give each one its own id.`);
  }
}

/** The engine's running operations. Owned by the engine; an operation is forgotten once its command settles. */
export class Operations {
  private readonly running = new Map<string, AbortController>();
  /**
   * Ids given to `cancel` before any command ran under them: a client may press Cancel while its command is still
   * on the way (a big import being uploaded). The command, when it arrives, is cancelled at once.
   */
  private readonly cancelledEarly = new Set<string>();

  /** `emit` sends onProgress; `signal` is the engine's own (aborted at shutdown); `now` is injectable for tests. */
  constructor(
    private readonly emit: EventSink,
    private readonly signal: AbortSignal | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs `work` as operation `id` (when given) and returns or throws what it does. Throws OperationInUseError when
   * `id` is already running, and CancelledError when `id` was cancelled before it came, both before `work` starts.
   */
  async run<T>(
    id: string | undefined,
    unit: "bytes" | "events",
    work: (operation: Operation) => Promise<T>,
  ): Promise<T> {
    if (id === undefined) return work({ signal: this.signal, report: () => {} });
    if (this.running.has(id)) throw new OperationInUseError(id);
    if (this.cancelledEarly.delete(id)) throw new CancelledError();
    const controller = new AbortController();
    this.running.set(id, controller);
    const signal = this.signal === undefined ? controller.signal : AbortSignal.any([this.signal, controller.signal]);
    let last: number | null = null;
    const report = (done: number, total: number | null): void => {
      const at = this.now();
      if (last !== null && at - last < PROGRESS_INTERVAL_MS && done !== total) return;
      last = at;
      this.emit("onProgress", { operation: id, done, total, unit });
    };
    try {
      return await work({ signal, report });
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * Stops operation `id` at its next check; false when no such operation is running (not come yet, or already
   * over). An id not come yet is remembered, so that its command is cancelled when it arrives: ids are the
   * caller's, new for each command, so one that is already over is never run again.
   */
  cancel(id: string): boolean {
    const controller = this.running.get(id);
    if (controller === undefined) {
      this.cancelledEarly.add(id);
      if (this.cancelledEarly.size > MAX_CANCELLED_EARLY)
        this.cancelledEarly.delete(this.cancelledEarly.values().next().value!);
      return false;
    }
    controller.abort(new CancelledError());
    return true;
  }
}
