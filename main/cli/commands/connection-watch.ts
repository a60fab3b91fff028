/**
 * What `connect` and `spawn` need to know about their connection while it runs, read off the printed timeline: when
 * bytes last passed (for --idle), whether the peer shut its side (FIN), and whether and why the connection (or the
 * child process) ended.
 */
import type { TimelineEvent } from "../../../preload/timeline.ts";

/** Watches one connection's events; fed by the follower of its session (CliRun.follow's `watch`). */
export class ConnectionWatch {
  /** Date.now() when bytes last went either way (or when the watch started, or `touch` was called). */
  lastActivity = Date.now();
  /** The peer shut its write side (FIN): it will send nothing more. */
  peerClosed = false;
  /** Why the connection ended ("ConnectionDone: ...", a child's "exit code 3"), once it has. */
  reason: string | null = null;
  /** Resolves when the connection has ended (lost, the attempt failed, the child process ended). */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;

  constructor(readonly conn: number) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get isEnded(): boolean {
    return this.reason !== null;
  }

  /** Restarts the quiet time (when input ends, the wait for an answer starts). */
  touch(): void {
    this.lastActivity = Date.now();
  }

  /** One event of the session. */
  saw(e: TimelineEvent): void {
    if (e.conn !== this.conn) return;
    if (e.kind === "data") this.touch();
    else if (e.kind === "lifecycle") {
      if (e.event === "read-closed") this.peerClosed = true;
      const end = e.event === "lost" || e.event === "failed" || e.event === "ended";
      if (end && this.reason === null) {
        this.reason = e.detail;
        this.resolveEnded();
      }
    }
  }

  /** Whether it ended by a reset or an error, rather than a clean close or an abort of ours. */
  get failed(): boolean {
    return this.reason !== null && !/^Connection(Done|Aborted)/.test(this.reason);
  }
}
