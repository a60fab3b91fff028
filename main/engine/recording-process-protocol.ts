/**
 * Recording a child process, as RecordingProtocol records a socket: the ProcessProtocol of a process session's
 * child puts every chunk it writes to stdout and stderr ("in", with its fd), every write to its stdin ("out", fd 0),
 * each pipe closing, its exit and its end on the session's timeline, and keeps the connection's counters. The
 * session drives the child through it: writes, closing stdin, signals, and stopping it.
 *
 * Events, in the core's order (core/process.ts): "spawned" once the child runs; "fd-closed" per pipe; "exited"
 * when it exits (output may still follow); "ended" last, when every pipe is closed too.
 */
import {
  ProcessProtocol,
  ProcessSpawnFailed,
  type Bytes,
  type IPushProducer,
  type ProcessExitReason,
} from "../../core/index.ts";
import { quoteCommandLine } from "../../preload/command-line.ts";
import { MAX_REASON_LENGTH, shorten } from "../../preload/limits.ts";
import type { LifecycleEvent } from "../../preload/timeline.ts";
import { monotonicMicros as nowMicros } from "../recording/recorder.ts";
import { ChildProtocolTransport } from "./child-protocol-transport.ts";
import type { ConnectionRecord, TimelineSink } from "./recording-protocol.ts";

/** How long a child has to exit after SIGTERM before `stop` kills it, and to close its pipes after it exited. */
export const STOP_GRACE_MS = 2000;

/** What the child runs and where: as the session was asked. */
export interface ProcessCommand {
  argv: string[];
  /** Absolute. */
  cwd: string;
  /** Entries added to the engine's environment. */
  env: Record<string, string>;
}

/**
 * Sees a child as it runs, each event after it is recorded, synchronously: how `wirescope wrap` relays a child's
 * pipes to its own. Given to the session that runs the child; it may slow the child down with the protocol's
 * `pauseReading` while it can't keep up.
 */
export interface ProcessTap {
  /** The child runs: what the tap writes and closes from now on goes through `child` (and is recorded). */
  started(child: RecordingProcessProtocol): void;
  /** The child wrote `data` to fd `childFD`. */
  childDataReceived(childFD: number, data: Bytes): void;
  /** The child's stdin is full (true: it is not reading) or takes more again (false). */
  stdinPaused(paused: boolean): void;
  /** The child ended: exited, every pipe closed. */
  processEnded(reason: ProcessExitReason): void;
}

/**
 * The protocol a process session runs on its child (the main-thread half of a sandboxed protocol): told everything
 * the child does, after it is recorded, and what others write to the child's stdin as fd 0.
 */
export interface ChildProtocol {
  makeConnection(transport: ChildProtocolTransport): void;
  childDataReceived(childFD: number, data: Bytes): void;
  childConnectionLost(childFD: number): void;
  processExited(reason: ProcessExitReason): void;
  processEnded(reason: ProcessExitReason): void;
  /** Calls `callback` once the protocol has finished with the child's end (what it logged then is recorded). */
  whenFinished(callback: () => void): void;
}

/** Who may pause reading the child's output: a tap that can't keep up, or a protocol that lags behind. */
export type ReadingPauser = "tap" | "protocol";

/** The names the timeline gives a child's first three fds. */
const FD_NAMES = ["stdin", "stdout", "stderr"];

/** "exit code 3", "killed by SIGTERM", or why the child could not be started: how a child ended, in words. */
export function describeExit(reason: ProcessExitReason): string {
  if (reason instanceof ProcessSpawnFailed) return shorten(reason.message, MAX_REASON_LENGTH);
  return reason.signal !== null ? `killed by ${reason.signal}` : `exit code ${reason.exitCode}`;
}

/**
 * Records one child of a process session (one connection). Created by the session for each run of its command and
 * handed to the core's spawnProcess; the session owns it. As the producer registered on the child's stdin, it
 * records when the child stops reading (what is sent then waits in memory, nothing is lost) and reads again.
 */
export class RecordingProcessProtocol extends ProcessProtocol implements IPushProducer {
  /** The child's exit code or signal once it exited; null until then. */
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** Resolves when the child has exited; `ended` when every pipe has closed too (processEnded). */
  readonly exited: Promise<void>;
  readonly ended: Promise<void>;
  #hasExited = false;
  #hasEnded = false;
  #stdinOpen = true;
  #writingPaused = false;
  #stopping: Promise<void> | null = null;
  /** Who asked to pause reading the child's output: it is read while nobody does. */
  readonly #readingPausedBy = new Set<ReadingPauser>();
  #resolveExited!: () => void;
  #resolveEnded!: () => void;

  constructor(
    readonly connection: ConnectionRecord,
    private readonly command: ProcessCommand,
    private readonly timeline: TimelineSink,
    private readonly changed: () => void,
    private readonly tap: ProcessTap | null = null,
    /** The session's protocol on this child, and whether it only watches (on a wrap: see ChildProtocolTransport). */
    private readonly protocol: { protocol: ChildProtocol; passive: boolean } | null = null,
  ) {
    super();
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    connection.peer = quoteCommandLine(command.argv);
  }

  /** Whether the child has ended: exited, every pipe closed, all its output recorded. */
  get hasEnded(): boolean {
    return this.#hasEnded;
  }

  /** Whether what is sent still reaches the child: its stdin is open and it is not being stopped. */
  get acceptsInput(): boolean {
    return this.#stdinOpen && this.#stopping === null && !this.#hasEnded;
  }

  /** The running child's process id; null once it exited (or if it never started). */
  get pid(): number | null {
    return this.#hasExited ? null : this.transport.pid;
  }

  override connectionMade(): void {
    const pid = this.transport.pid;
    // A child that could not be exec'd has no pid: its pipes close and processEnded says why.
    if (pid === null) return;
    this.connection.state = "connected";
    this.connection.host = `pid ${pid}`;
    const { argv, cwd } = this.command;
    this.note("spawned", `${this.connection.peer} (pid ${pid})`, { pid, argv, cwd });
    this.transport.registerProducer(this, true);
    this.tap?.started(this);
    if (this.protocol !== null) {
      this.protocol.protocol.makeConnection(new ChildProtocolTransport(this, this.protocol.passive));
    }
  }

  /**
   * Writes `data` to the child's stdin, recorded as "out" on fd 0. The session checks `acceptsInput` first. The
   * protocol is told of what `by` others wrote (as fd 0), not of its own writes.
   */
  write(data: Bytes, by: "protocol" | "other" = "other"): void {
    if (data.byteLength === 0) return;
    const c = this.connection;
    c.bytesOut += data.byteLength;
    c.chunksOut += 1;
    this.timeline.append({ kind: "data", t: nowMicros(), conn: c.conn, dir: "out", fd: 0, data });
    this.changed();
    this.transport.write(data);
    if (by === "other") this.protocol?.protocol.childDataReceived(0, data);
  }

  /** Closes the child's stdin once what was written is flushed: it reads end-of-file. */
  closeStdin(): void {
    this.#stdinOpen = false;
    this.transport.closeStdin();
  }

  /** Stops reading the child's stdout and stderr for `by`: once their pipes are full, a child writing more waits. */
  pauseReading(by: ReadingPauser): void {
    this.#readingPausedBy.add(by);
    if (this.#readingPausedBy.size === 1) this.transport.pauseProducing();
  }

  /** `by` no longer needs the pause: the child's output is read again once nobody does. */
  resumeReading(by: ReadingPauser): void {
    if (!this.#readingPausedBy.delete(by) || this.#readingPausedBy.size > 0) return;
    this.transport.resumeProducing();
  }

  /** Sends `signal` to the child. Throws the core's ProcessExitedAlready once it has exited. */
  signal(signal: NodeJS.Signals | number): void {
    this.transport.signalProcess(signal);
  }

  /**
   * Stops the child: SIGTERM; SIGKILL if it has not exited STOP_GRACE_MS later; then, if its pipes are still open
   * STOP_GRACE_MS after the exit (a grandchild holds them), our ends are closed. Resolves once it has ended; calls
   * after the first share its wait.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (!this.#hasExited) this.#signalIfRunning("SIGTERM");
    if (!(await settlesWithin(this.exited, STOP_GRACE_MS))) this.#signalIfRunning("SIGKILL");
    await this.exited;
    if (!(await settlesWithin(this.ended, STOP_GRACE_MS))) this.transport.abortConnection();
    await this.ended;
  }

  /** Kills the child at once (SIGKILL), if it still runs. */
  kill(): void {
    this.#signalIfRunning("SIGKILL");
  }

  #signalIfRunning(signal: NodeJS.Signals): void {
    if (this.transport.pid !== null && !this.#hasExited) this.transport.signalProcess(signal);
  }

  override childDataReceived(childFD: number, data: Bytes): void {
    const c = this.connection;
    c.bytesIn += data.byteLength;
    c.chunksIn += 1;
    this.timeline.append({ kind: "data", t: nowMicros(), conn: c.conn, dir: "in", fd: childFD, data });
    this.changed();
    this.tap?.childDataReceived(childFD, data);
    this.protocol?.protocol.childDataReceived(childFD, data);
  }

  override childConnectionLost(childFD: number): void {
    if (childFD === 0) {
      this.#stdinOpen = false;
      if (this.connection.state === "connected") this.connection.state = "half-closed";
    }
    this.note("fd-closed", `${FD_NAMES[childFD] ?? `fd ${childFD}`} closed`, { fd: childFD });
    this.protocol?.protocol.childConnectionLost(childFD);
  }

  override processExited(reason: ProcessExitReason): void {
    this.#hasExited = true;
    this.exitCode = reason.exitCode;
    this.exitSignal = reason.signal;
    this.note("exited", describeExit(reason), { code: reason.exitCode, signal: reason.signal });
    this.#resolveExited();
    this.protocol?.protocol.processExited(reason);
  }

  override processEnded(reason: ProcessExitReason): void {
    // A child that never started never called processExited.
    if (!this.#hasExited) this.processExited(reason);
    this.#hasEnded = true;
    const c = this.connection;
    c.state = "closed";
    c.closedAt = nowMicros();
    c.reason = describeExit(reason);
    this.note("ended", c.reason);
    this.tap?.processEnded(reason);
    const protocol = this.protocol?.protocol;
    if (protocol === undefined) {
      this.#resolveEnded();
      return;
    }
    protocol.processEnded(reason);
    protocol.whenFinished(this.#resolveEnded);
  }

  /** The child's stdin is full: it is not reading. Recorded once per stall. */
  pauseProducing(): void {
    if (this.#writingPaused) return;
    this.#writingPaused = true;
    this.note("paused", "the child is not reading its stdin: what is sent waits in memory");
    this.tap?.stdinPaused(true);
  }

  resumeProducing(): void {
    if (!this.#writingPaused) return;
    this.#writingPaused = false;
    this.note("resumed", "the child reads its stdin again");
    this.tap?.stdinPaused(false);
  }

  /** Stdin closed: nothing more to pause. */
  stopProducing(): void {}

  private note(event: LifecycleEvent, detail: string, fields?: Record<string, unknown>): void {
    const t = nowMicros();
    const conn = this.connection.conn;
    this.timeline.append(
      fields === undefined
        ? { kind: "lifecycle", t, conn, event, detail }
        : { kind: "lifecycle", t, conn, event, detail, fields },
    );
    this.changed();
  }
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
