/**
 * Process sessions: a command the user runs, as a session like any other. Its child is connection 1 (each restart a
 * new connection on the same timeline), run by the core's spawnProcess and recorded by a RecordingProcessProtocol:
 * what is sent goes to its stdin, its stdout and stderr come back with their fd. A protocol, if the session runs one,
 * is built for each child (ChildProtocol: a sandboxed ProcessProtocol or Protocol); when it halts, the child runs on.
 *
 * The connection controls keep their meaning: `send` writes to stdin, a half-close closes stdin, a close stops the
 * child (SIGTERM, then SIGKILL), an abort kills it (SIGKILL). `signal` sends what the user picks.
 */
import { spawnProcess, SpawnError, type Bytes } from "../../core/index.ts";
import type { ProcessSignal, SessionInfo } from "../../preload/contract.ts";
import { quoteCommandLine } from "../../preload/command-line.ts";
import { shorten } from "../../preload/limits.ts";
import { ConnectionClosedError, EngineError, NotAProcessError, SpawnFailedError } from "./errors.ts";
import {
  RecordingProcessProtocol,
  type ChildProtocol,
  type ProcessCommand,
  type ProcessTap,
} from "./recording-process-protocol.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";
import { Session, type SessionOptions } from "./session.ts";

/** The protocol a process session runs: its file (hot-reloaded on save), and how a child's instance is built. */
export interface ChildProtocols {
  file: string;
  create(connection: ConnectionRecord): ChildProtocol;
}

/**
 * A process session. Created by the session registry for kind "process", then started with `start`; the engine
 * drops it if that fails, so a command that can't run leaves no session behind.
 */
export class ProcessSession extends Session {
  #command: ProcessCommand | null = null;
  #tap: ProcessTap | null = null;
  #protocols: ChildProtocols | null = null;
  /** The child of the latest run; null before the first. */
  #current: RecordingProcessProtocol | null = null;
  /**
   * Restarts and the close, one after the other: each waits for the one before, so that a child spawned by one
   * is the `#current` the next one stops (two reconnects at once, a close during a restart).
   */
  #queue: Promise<void> = Promise.resolve();
  /** Set by `close`: from then on no child is spawned. */
  #closing = false;
  readonly #notify: () => void;

  constructor(options: SessionOptions) {
    super(options);
    this.#notify = options.changed;
  }

  /**
   * Runs `command` as connection 1; `tap`, if given, sees each of its children as it runs (see ProcessTap), and
   * `protocols`, if given, build the protocol each child runs — passive when there is a tap: the tap's program owns
   * the conversation (see ChildProtocolTransport). Throws SpawnFailedError when it can't be run.
   */
  async start(
    command: ProcessCommand,
    tap: ProcessTap | null = null,
    protocols: ChildProtocols | null = null,
  ): Promise<void> {
    this.#command = command;
    this.#tap = tap;
    this.#protocols = protocols;
    this.protocol = protocols?.file ?? null;
    this.target = quoteCommandLine(command.argv);
    await this.#spawn();
  }

  /**
   * Runs the command again as a new connection; a child still running is stopped first (see `stop`). Throws
   * SpawnFailedError when it can't be run any more (the program was removed): the timeline says so. Runs after the
   * restarts and close before it; refused (connection-closed) once the session is closing, even mid-way.
   */
  restart(): Promise<void> {
    return this.#inTurn(async () => {
      if (this.#current !== null && !this.#current.hasEnded) await this.#current.stop();
      if (this.#closing) {
        throw new EngineError("connection-closed", `Session '${this.id}' is closed: it won't run its command again.`);
      }
      await this.#spawn();
    });
  }

  /** Runs `step` once every restart and close before it has settled; settles as it does. */
  #inTurn(step: () => Promise<void>): Promise<void> {
    const turn = this.#queue.then(step);
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #spawn(): Promise<void> {
    const command = this.#command;
    if (command === null) throw new EngineError("internal", `Session '${this.id}' was never started.`);
    const record = this.newConnection("server");
    const protocols = this.#protocols;
    const protocol = protocols === null ? null : { protocol: protocols.create(record), passive: this.#tap !== null };
    const child = new RecordingProcessProtocol(record, command, this.timeline, this.#notify, this.#tap, protocol);
    const shown = shorten(this.target);
    try {
      spawnProcess(child, command.argv[0]!, command.argv, {
        env: { ...process.env, ...command.env },
        path: command.cwd,
      });
    } catch (err) {
      if (!(err instanceof SpawnError)) throw err;
      record.state = "closed";
      record.reason = err.message;
      this.note("failed", err.message, record.conn);
      throw new SpawnFailedError(shown, err.message, { cause: err });
    }
    this.#current = child;
    // Exec failed after the checks (a script whose interpreter is missing): no pid, and processEnded says why.
    if (child.transport.pid === null) {
      await child.ended;
      throw new SpawnFailedError(shown, record.reason ?? "it could not be started");
    }
  }

  /** The child of connection `conn`, while it runs; ConnectionClosedError once it ended. */
  #running(conn: number, what: string): RecordingProcessProtocol {
    const record = this.connection(conn);
    const child = this.#current;
    if (child === null || child.connection !== record || child.hasEnded) {
      throw new ConnectionClosedError(this.id, conn, what);
    }
    return child;
  }

  /** Writes to the child's stdin (recorded "out", fd 0). ConnectionClosedError once stdin is closed. */
  override send(conn: number, data: Bytes): void {
    const child = this.#running(conn, "send");
    if (!child.acceptsInput) throw new ConnectionClosedError(this.id, conn, "send: its stdin is closed");
    child.write(data);
  }

  /** Closes the child's stdin: it reads end-of-file once what was sent is flushed. */
  override halfCloseConnection(conn: number): void {
    this.#running(conn, "close its stdin").closeStdin();
  }

  /** Stops the child (SIGTERM, then SIGKILL); returns at once, the timeline shows the end. */
  override closeConnection(conn: number): void {
    void this.#running(conn, "stop it").stop();
  }

  /** Kills the child (SIGKILL). */
  override abortConnection(conn: number): void {
    this.#running(conn, "kill it").kill();
  }

  /** Sends `signal` to the running child. ConnectionClosedError once it exited. */
  signal(signal: ProcessSignal): void {
    const child = this.#current;
    const what = `send it ${signal}`;
    if (child === null) throw new ConnectionClosedError(this.id, 1, what);
    if (child.pid === null) throw new ConnectionClosedError(this.id, child.connection.conn, `${what}: it has exited`);
    child.signal(signal);
  }

  /**
   * Stops the child, if it runs, and waits for its end before the session closes: its capture is complete. A restart
   * under way finishes first, without spawning; none spawns after.
   */
  override close(): Promise<void> {
    this.#closing = true;
    return this.#inTurn(async () => {
      await this.#current?.stop();
      await super.close();
    });
  }

  /** The session's info, with the command and how its latest child is doing. */
  override info(): SessionInfo {
    const info = super.info();
    const child = this.#current;
    const command = this.#command;
    if (command === null) return info;
    const pid = child?.pid ?? null;
    return {
      ...info,
      state: child !== null && !child.hasEnded ? "connected" : "closed",
      process: {
        argv: command.argv,
        cwd: command.cwd,
        ...(pid !== null ? { pid } : {}),
        ...(child?.exitCode != null ? { exitCode: child.exitCode } : {}),
        ...(child?.exitSignal != null ? { signal: child.exitSignal } : {}),
      },
    };
  }
}

/** `session` as a process session; NotAProcessError if it is another kind. */
export function processSession(session: Session, what: string): ProcessSession {
  if (!(session instanceof ProcessSession)) throw new NotAProcessError(session.id, what);
  return session;
}
