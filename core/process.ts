/**
 * Child processes (src/twisted/internet/process.py, `ProcessProtocol` in protocol.py, `IProcessProtocol` and
 * `IProcessTransport` in interfaces.py), over node:child_process.
 *
 *     class Grep extends ProcessProtocol {
 *       override outReceived(data: Bytes) { ... }
 *       override processEnded(reason: ProcessExitReason) { ... }
 *     }
 *     const t = spawnProcess(new Grep(), "/usr/bin/grep", ["grep", "-n", "TODO"], { env: { LANG: "C" } });
 *     t.write(Buffer.from(source));
 *     t.closeStdin();
 *
 * The events a ProcessProtocol gets, in Twisted's order:
 * - `makeConnection(transport)` -> `connectionMade()`, synchronously inside `spawnProcess`, pipes already open;
 * - `childDataReceived(fd, data)` for each chunk the child writes to a pipe the parent reads (fd 1 also as
 *   `outReceived`, fd 2 as `errReceived`);
 * - `childConnectionLost(fd)` once per pipe when it closes (either side closed it, or the child died);
 * - `processExited(reason)` once, when the child exits — output may still be in the pipes;
 * - `processEnded(reason)` once and last, after the exit AND after every pipe has closed, so all output has
 *   been delivered by then.
 *
 * Where Node forced a choice, this module follows Twisted's POSIX behaviour:
 * - `args[0]` is the child's argv[0] (what it sees as `$0` / `sys.argv[0]`); the arguments proper are
 *   `args.slice(1)`. Callers port from Twisted unchanged, and a child can be given a name other than its path.
 * - The child gets an EMPTY environment unless `env` is given (`env: null` inherits `process.env`), so nothing
 *   of the app's environment (tokens, proxies) leaks into tools it runs by accident. PATH lookup of a bare
 *   executable name still works: like execvp, it searches the child's PATH, or "/usr/bin:/bin" when the child has
 *   none. On Windows, as in Twisted, the child always starts from `process.env`.
 * - A missing or non-executable executable, or a missing working directory, throws SpawnError synchronously from
 *   `spawnProcess` (Node would only report it later, as an ENOENT that names the wrong file for a bad cwd).
 *   What only fails at exec time (a script whose `#!` interpreter is missing, a file removed meanwhile) ends the
 *   process with `processEnded(ProcessSpawnFailed)`, a ProcessTerminated, after the usual pipe callbacks.
 */
import { spawn, type ChildProcess, type StdioNull, type StdioPipe } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { Duplex, type Readable, type Writable } from "node:stream";

import { ProcessAddress, type Address } from "./address.ts";
import { ProcessDone, ProcessExitedAlready, ProcessTerminated, TwistedError } from "./errors.ts";
import type { Bytes, IPullProducer, IPushProducer, ITransport } from "./interfaces.ts";
import { Logger } from "./logger.ts";
import { BaseProtocol } from "./protocol.ts";
import { checkBytes } from "./bytes.ts";

/** What `processExited` and `processEnded` receive: ProcessDone for exit code 0, else ProcessTerminated. */
export type ProcessExitReason = ProcessDone | ProcessTerminated;

type WithoutSIG<S> = S extends `SIG${infer Name}` ? Name : never;

/** A signal name as Twisted spells it: "TERM", "KILL", "INT", "HUP", "STOP"... (Node's names without "SIG"). */
export type ProcessSignal = WithoutSIG<NodeJS.Signals>;

/**
 * What a child fd is connected to (Twisted's `childFDs` values): "r" a pipe the parent reads (the child writes),
 * "w" a pipe the parent writes (the child reads), or a number: that fd of the parent, inherited as is.
 */
export type ChildFDTarget = "r" | "w" | number;

/** Options of `spawnProcess`. */
export interface SpawnProcessOptions {
  /**
   * The child's whole environment. Omitted: an empty environment (Twisted, POSIX). null: a copy of `process.env`.
   * Entries whose value is undefined are left out. On Windows the entries are added to `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>> | null;
  /** The child's working directory; the parent's by default. Must exist. */
  path?: string | null;
  /**
   * Which child fds get which pipe; default `{0: "w", 1: "r", 2: "r"}`. Fds 0-2 left out are opened on
   * /dev/null (Twisted closes them); higher fds left out are closed. Node makes fd 0 a pipe the parent can
   * only write and fds 1 and 2 pipes it can only read, so those take "w" and "r" respectively (or a number).
   */
  childFDs?: Readonly<Record<number, ChildFDTarget>>;
}

/**
 * The transport of a child process, as its ProcessProtocol sees it (IProcessTransport). It is an ITransport,
 * so a stream Protocol can be run over a child's stdin/stdout (`write` goes to fd 0, `loseConnection` closes
 * fds 0-2).
 */
export interface IProcessTransport extends ITransport {
  /** The child's process id; null once it has exited (or if it never started). */
  readonly pid: number | null;
  /** Writes to a child fd configured "w". */
  writeToChild(childFD: number, data: Bytes): void;
  /** Closes the parent's end of a pipe: a "w" pipe after flushing, an "r" pipe at once. */
  closeChildFD(childFD: number): void;
  /** `closeChildFD(0)`: the child reads end-of-file once what was written is flushed. */
  closeStdin(): void;
  /**
   * `closeChildFD(1)`: output not yet read is dropped; the child's next write to stdout fails. Node's pipes are
   * socketpairs, so the child usually sees ECONNRESET (or EPIPE) rather than dying of SIGPIPE as with
   * Twisted's os.pipe().
   */
  closeStdout(): void;
  /** `closeChildFD(2)`. */
  closeStderr(): void;
  /** Sends a signal. Throws ProcessExitedAlready once the child has exited. */
  signalProcess(signal: ProcessSignal | NodeJS.Signals | number): void;
}

/** Receives a child process's events (IProcessProtocol). ProcessProtocol implements it with Twisted's dispatch. */
export interface IProcessProtocol {
  /** Called once by `spawnProcess`, before it returns, with the child's transport. */
  makeConnection(transport: IProcessTransport): void;
  /** Bytes from child fd `childFD`, any split of the stream. */
  childDataReceived(childFD: number, data: Bytes): void;
  /** The pipe to child fd `childFD` closed; called once per pipe. */
  childConnectionLost(childFD: number): void;
  /** The child exited; once. Output may still be arriving. */
  processExited(reason: ProcessExitReason): void;
  /** The child exited and every pipe is closed; once, and the last call. */
  processEnded(reason: ProcessExitReason): void;
}

/**
 * A protocol for a child process (twisted.internet.protocol.ProcessProtocol). Override the callbacks you need;
 * the defaults dispatch by fd and otherwise do nothing. An exception thrown by a callback is logged: from
 * `childDataReceived` it also closes that pipe (as a throwing `dataReceived` drops a connection); the
 * process's later callbacks still come.
 */
export class ProcessProtocol extends BaseProtocol implements IProcessProtocol {
  /** The child's transport; set by `makeConnection` before `connectionMade` runs. */
  declare transport: IProcessTransport;

  /** Called by `spawnProcess` once the child is started: sets `transport`, then calls `connectionMade()`. */
  override makeConnection(transport: IProcessTransport): void {
    super.makeConnection(transport);
  }

  /** Called with each chunk read from a child fd. Dispatches fd 1 to `outReceived`, fd 2 to `errReceived`. */
  childDataReceived(childFD: number, data: Bytes): void {
    if (childFD === 1) this.outReceived(data);
    else if (childFD === 2) this.errReceived(data);
  }

  /** Called with each chunk the child writes to its stdout. */
  outReceived(_data: Bytes): void {}

  /** Called with each chunk the child writes to its stderr. */
  errReceived(_data: Bytes): void {}

  /**
   * Called once when the pipe to a child fd closes. Dispatches fd 0 to `inConnectionLost`, 1 to
   * `outConnectionLost`, 2 to `errConnectionLost`.
   */
  childConnectionLost(childFD: number): void {
    if (childFD === 0) this.inConnectionLost();
    else if (childFD === 1) this.outConnectionLost();
    else if (childFD === 2) this.errConnectionLost();
  }

  /** The child's stdin closed: we closed it, or the child died. Writes to it are dropped from now on. */
  inConnectionLost(): void {}

  /** The child's stdout closed: all of it has been delivered (or we closed it). */
  outConnectionLost(): void {}

  /** The child's stderr closed: all of it has been delivered (or we closed it). */
  errConnectionLost(): void {}

  /** Called once when the child exits; its pipes may still hold output, which is delivered afterwards. */
  processExited(_reason: ProcessExitReason): void {}

  /**
   * Called once, last, when the child has exited and all its pipes are closed: every byte it wrote has been
   * delivered. `reason` is ProcessDone (exit code 0) or ProcessTerminated (`exitCode`, or `signal` as "SIGKILL").
   */
  processEnded(_reason: ProcessExitReason): void {}
}

/** `spawnProcess` could not start the child: the executable or the working directory is missing or unusable. */
export class SpawnError extends TwistedError {
  constructor(
    /** "ENOENT" (not found), "EACCES" (not an executable file) or "ENOTDIR" (working directory is no directory). */
    readonly errno: "ENOENT" | "EACCES" | "ENOTDIR",
    /** The executable or the working directory, as given. */
    readonly path: string,
    message: string,
  ) {
    super(`${message}: ${errno}: ${path}`);
  }
}

/**
 * The child could not be exec'd although its executable looked fine when `spawnProcess` checked it (a `#!`
 * interpreter is missing, the file went away). Delivered as the reason of `processExited`/`processEnded`;
 * `exitCode` and `signal` are null, `cause` is Node's spawn error.
 */
export class ProcessSpawnFailed extends ProcessTerminated {
  constructor(
    /** The executable, as given. */
    readonly executable: string,
    cause: Error,
  ) {
    super(null, null);
    this.message = `The process could not be started: ${cause.message}.`;
    this.cause = cause;
  }
}

/** The search path execvp uses when the child's environment has no PATH (glibc's and libuv's _PATH_DEFPATH). */
const DEFAULT_PATH = "/usr/bin:/bin";

const DEFAULT_CHILD_FDS: Readonly<Record<number, ChildFDTarget>> = { 0: "w", 1: "r", 2: "r" };

/**
 * Spawns `executable` as a child process run by `processProtocol` (IReactorProcess.spawnProcess) and returns its
 * transport. `processProtocol.makeConnection` has been called when this returns.
 *
 * `args[0]` is the child's argv[0], the rest its arguments (Twisted's convention; an empty `args` uses
 * `executable`). See the module comment for the environment (empty unless `env` is given) and for errors:
 * a missing or non-executable `executable` or a missing `path` throws SpawnError here; invalid arguments (a
 * non-string, a NUL byte) throw Node's TypeError.
 */
export function spawnProcess(
  processProtocol: IProcessProtocol,
  executable: string,
  args: readonly string[] = [],
  options: SpawnProcessOptions = {},
): ProcessTransport {
  return new ProcessTransport(processProtocol, executable, args, options);
}

/**
 * A running child process and the parent's ends of its pipes (twisted.internet.process.Process). Created by
 * `spawnProcess`; the ProcessProtocol owns it through `transport`. It stays alive until `processEnded`.
 *
 * As a consumer it writes to stdin (`registerProducer` throttles a producer on stdin's buffer); as a producer
 * it is the child's output: `pauseProducing` stops reading every "r" pipe, so a child writing more blocks.
 */
export class ProcessTransport implements IProcessTransport {
  /** The child's process id; null once it has exited (Twisted sets it to None), or if it never started. */
  pid: number | null;
  /** The exit code once the child exited normally; null while it runs, or if a signal ended it (see `exitSignal`). */
  status: number | null = null;
  /** The signal that ended the child ("SIGKILL"...), or null. */
  exitSignal: NodeJS.Signals | null = null;
  /** True from `loseConnection()`/`abortConnection()` on. */
  disconnecting = false;

  readonly #child: ChildProcess;
  readonly #log: Logger;
  readonly #address = new ProcessAddress();
  /** The open pipes by child fd; a pipe leaves the map when it closes. */
  readonly #pipes = new Map<number, ProcessReader | ProcessWriter>();
  /** The child fds configured "w", open or not: `writeToChild` accepts exactly these. */
  readonly #writableFDs = new Set<number>();
  #protocol: IProcessProtocol | null;
  #reason: ProcessExitReason | null = null;

  /** Spawns the child (see `spawnProcess`, which is the way to call this). */
  constructor(protocol: IProcessProtocol, executable: string, args: readonly string[], options: SpawnProcessOptions) {
    const childFDs = options.childFDs ?? DEFAULT_CHILD_FDS;
    const stdio = stdioFor(childFDs);
    const env = childEnvironment(options.env);
    const cwd = options.path ?? undefined;
    if (process.platform !== "win32") {
      if (cwd !== undefined) checkDirectory(cwd);
      checkExecutable(executable, env, cwd ?? process.cwd());
    }

    this.#protocol = protocol;
    this.#log = new Logger("ProcessTransport", protocol);
    this.#child = spawn(executable, args.slice(1), {
      argv0: args[0] ?? executable,
      cwd,
      env,
      stdio,
      windowsHide: true,
    });
    this.pid = this.#child.pid ?? null;
    this.#child.once("exit", (code, signal) => {
      this.#processExited(code === 0 ? new ProcessDone() : new ProcessTerminated(code, signal));
    });
    this.#child.on("error", (err) => {
      // Node reports a failed exec as an "error" without "exit"; other errors (a failed kill) leave it running.
      if (this.#child.pid === undefined && this.#reason === null) {
        this.#processExited(new ProcessSpawnFailed(executable, err));
      } else {
        this.#log.failure("Error from child process {pid}", err, { pid: this.pid }, "error");
      }
    });

    for (const [fd, target] of Object.entries(childFDs)) {
      const childFD = Number(fd);
      const stream = this.#child.stdio[childFD];
      if (target === "r" && stream) {
        const reader = new ProcessReader(
          stream as Readable,
          (data) => this.#childDataReceived(childFD, data),
          () => this.#childConnectionLost(childFD),
        );
        this.#pipes.set(childFD, reader);
      } else if (target === "w" && stream) {
        this.#writableFDs.add(childFD);
        const writer = new ProcessWriter(stream as Writable, this.#log, () => this.#childConnectionLost(childFD));
        this.#pipes.set(childFD, writer);
      }
    }

    this.#call("makeConnection", () => protocol.makeConnection(this));
  }

  /** Writes to the child's stdin. Throws TypeError for non-bytes; dropped silently once stdin is closed. */
  write(data: Bytes): void {
    checkBytes(data);
    this.#writer(0)?.write(data);
  }

  /** Writes each chunk to the child's stdin, in order. Throws TypeError, writing nothing, if one is not bytes. */
  writeSequence(data: readonly Bytes[]): void {
    for (const chunk of data) checkBytes(chunk);
    for (const chunk of data) this.#writer(0)?.write(chunk);
  }

  /**
   * Writes to child fd `childFD`, which must have been configured "w" (RangeError otherwise). Dropped silently
   * once that pipe is closed. Throws TypeError for non-bytes.
   */
  writeToChild(childFD: number, data: Bytes): void {
    checkBytes(data);
    if (!this.#writableFDs.has(childFD)) throw new RangeError(`Child fd ${childFD} is not a pipe the parent writes`);
    this.#writer(childFD)?.write(data);
  }

  /**
   * Closes the parent's end of the pipe to `childFD`: a "w" pipe once what was written is flushed, an "r" pipe
   * at once (unread output is dropped). `childConnectionLost(childFD)` follows. Nothing if it is closed already.
   */
  closeChildFD(childFD: number): void {
    this.#pipes.get(childFD)?.loseConnection();
  }

  closeStdin(): void {
    this.closeChildFD(0);
  }

  closeStdout(): void {
    this.closeChildFD(1);
  }

  closeStderr(): void {
    this.closeChildFD(2);
  }

  /**
   * Closes stdin (after flushing), stderr and stdout (Twisted's order). Does not signal the child: most
   * programs exit on end-of-input or on SIGPIPE, others keep running until `signalProcess`.
   */
  loseConnection(): void {
    this.disconnecting = true;
    this.closeStdin();
    this.closeStderr();
    this.closeStdout();
  }

  /** Closes every pipe at once, dropping what is still buffered for stdin. Does not signal the child. */
  abortConnection(): void {
    this.disconnecting = true;
    for (const pipe of [...this.#pipes.values()]) pipe.abort();
  }

  /** The half-close of a process transport: `closeStdin()`. */
  loseWriteConnection(): void {
    this.closeStdin();
  }

  /**
   * Sends `signal` to the child: a Twisted name ("TERM", "KILL", "INT", "HUP"...), a Node name ("SIGTERM") or a
   * number. Throws ProcessExitedAlready once the child has exited, Node's TypeError for an unknown name.
   */
  signalProcess(signal: ProcessSignal | NodeJS.Signals | number): void {
    if (this.pid === null) throw new ProcessExitedAlready();
    const nodeSignal = typeof signal === "number" || isNodeSignalName(signal) ? signal : (`SIG${signal}` as const);
    if (!this.#child.kill(nodeSignal)) throw new ProcessExitedAlready();
  }

  /** A ProcessAddress: a process's pipes have no address. */
  getPeer(): Address {
    return this.#address;
  }

  /** A ProcessAddress. */
  getHost(): Address {
    return this.#address;
  }

  /** Pipes have no TCP options: this does nothing. */
  setTcpNoDelay(_enabled: boolean): void {}
  /** Always false: pipes have no TCP options. */
  getTcpNoDelay(): boolean {
    return false;
  }
  /** Pipes have no TCP options: this does nothing. */
  setTcpKeepAlive(_enabled: boolean): void {}
  /** Always false: pipes have no TCP options. */
  getTcpKeepAlive(): boolean {
    return false;
  }

  /**
   * Registers a producer for the child's stdin: a push producer is paused while stdin's buffer is full and
   * resumed when it drains; a pull producer is resumed now and each time it is empty. Stopped when stdin closes,
   * at once if there is no open stdin. Throws if one is registered already.
   */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    const stdin = this.#writer(0);
    if (stdin) stdin.registerProducer(producer, streaming);
    else producer.stopProducing();
  }

  /** Detaches stdin's producer, if any. */
  unregisterProducer(): void {
    this.#writer(0)?.unregisterProducer();
  }

  /** Stops reading the child's output ("r" pipes); a child that keeps writing blocks once a pipe is full. */
  pauseProducing(): void {
    for (const pipe of this.#pipes.values()) if (pipe instanceof ProcessReader) pipe.pause();
  }

  /** Reads the child's output again after `pauseProducing`. */
  resumeProducing(): void {
    for (const pipe of this.#pipes.values()) if (pipe instanceof ProcessReader) pipe.resume();
  }

  /** The consumer of the child's output went away: `loseConnection()`. */
  stopProducing(): void {
    this.loseConnection();
  }

  toString(): string {
    return `<ProcessTransport pid=${this.pid} status=${this.status}>`;
  }

  #writer(childFD: number): ProcessWriter | null {
    const pipe = this.#pipes.get(childFD);
    return pipe instanceof ProcessWriter ? pipe : null;
  }

  #childDataReceived(childFD: number, data: Bytes): void {
    const protocol = this.#protocol;
    if (protocol === null) return;
    if (!this.#call("childDataReceived", () => protocol.childDataReceived(childFD, data))) {
      this.#pipes.get(childFD)?.abort();
    }
  }

  #childConnectionLost(childFD: number): void {
    if (!this.#pipes.delete(childFD)) return;
    const protocol = this.#protocol;
    if (protocol !== null) this.#call("childConnectionLost", () => protocol.childConnectionLost(childFD));
    this.#maybeCallProcessEnded();
  }

  #processExited(reason: ProcessExitReason): void {
    this.#reason = reason;
    this.pid = null;
    this.status = reason.signal === null ? reason.exitCode : null;
    this.exitSignal = reason.signal as NodeJS.Signals | null;
    const protocol = this.#protocol;
    if (protocol !== null) this.#call("processExited", () => protocol.processExited(reason));
    this.#maybeCallProcessEnded();
  }

  /** processEnded waits for the exit AND for every pipe to close, so that all output has been delivered. */
  #maybeCallProcessEnded(): void {
    const protocol = this.#protocol;
    const reason = this.#reason;
    if (protocol === null || reason === null || this.#pipes.size > 0) return;
    this.#protocol = null;
    this.#call("processEnded", () => protocol.processEnded(reason));
  }

  /** Runs a protocol callback; logs what it throws (Twisted: "while calling processEnded:") and returns false. */
  #call(callback: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.#log.failure("Unhandled error while calling {callback}", err, { callback, pid: this.pid });
      return false;
    }
  }
}

/**
 * The parent's end of a pipe it reads (twisted.internet.process.ProcessReader).
 *
 * Pausing is done here, not only by the stream: Node resumes every stdio stream when the child exits (its
 * flushStdio), which would deliver output, and the pipe's end, to a paused protocol. Chunks that arrive while
 * paused are queued, and an end seen while paused is reported after `resume()` has delivered them.
 */
class ProcessReader {
  #paused = false;
  /** `loseConnection()` was called: deliver nothing more. */
  #closing = false;
  /** The stream closed while paused; `childConnectionLost` waits for `resume()`. */
  #endedWhilePaused = false;
  #queue: Bytes[] = [];
  #lost = false;

  constructor(
    private readonly stream: Readable,
    private readonly onData: (data: Bytes) => void,
    private readonly onLost: () => void,
  ) {
    stream.on("data", (chunk: Bytes) => {
      if (this.#closing) return;
      if (this.#paused) this.#queue.push(chunk);
      else onData(chunk);
    });
    // A read error ends the pipe like end-of-file does; "close" follows and reports it.
    stream.on("error", () => {});
    stream.once("close", () => {
      if (this.#paused && !this.#closing) this.#endedWhilePaused = true;
      else this.#reportLost();
    });
  }

  pause(): void {
    this.#paused = true;
    this.stream.pause();
  }

  /** Delivers what was queued while paused, then reads again (or reports the end seen meanwhile). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // A callback may pause or close again; stop delivering as soon as it does.
    while (!this.#paused && !this.#closing && this.#queue.length > 0) this.onData(this.#queue.shift()!);
    if (this.#paused || this.#closing) return;
    if (this.#endedWhilePaused) this.#reportLost();
    else this.stream.resume();
  }

  /** Stops reading and closes at once, dropping unread output; the loss is reported asynchronously. */
  loseConnection(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#queue = [];
    if (this.#endedWhilePaused) process.nextTick(() => this.#reportLost());
    else this.stream.destroy();
  }

  abort(): void {
    this.loseConnection();
  }

  #reportLost(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.onLost();
  }
}

/** The parent's end of a pipe it writes (twisted.internet.process.ProcessWriter), with producer throttling. */
class ProcessWriter {
  #closing = false;
  #producer: IPushProducer | IPullProducer | null = null;
  #streaming = false;
  #producerPaused = false;
  /** A pull producer was asked for more and has not written since. */
  #pullRequested = false;

  constructor(
    private readonly stream: Writable,
    private readonly log: Logger,
    onLost: () => void,
  ) {
    stream.on("drain", () => this.#drained());
    // EPIPE and the like: the child closed its end. The stream destroys itself and "close" reports it.
    stream.on("error", () => {});
    stream.once("close", () => {
      const producer = this.#producer;
      this.#producer = null;
      if (producer) this.#callProducer("stopProducing", () => producer.stopProducing());
      onLost();
    });
    // Fds >= 3 are sockets Node can read: reading is how the parent notices the child closing its end
    // (Twisted's "read hack"). Whatever the child writes there is discarded. Node closes fd 0 itself at exit.
    if (stream instanceof Duplex && stream.readable) stream.resume();
  }

  write(data: Bytes): void {
    if (this.#closing || this.stream.destroyed) return;
    this.#pullRequested = false;
    const ok = this.stream.write(data, () => this.#flushed());
    if (!ok && this.#producer !== null && this.#streaming && !this.#producerPaused) {
      this.#producerPaused = true;
      const producer = this.#producer as IPushProducer;
      this.#callProducer("pauseProducing", () => producer.pauseProducing());
    }
  }

  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    if (this.#producer !== null) {
      throw new Error(`Cannot register producer ${String(producer)}: ${String(this.#producer)} is still registered`);
    }
    if (this.#closing || this.stream.destroyed) {
      producer.stopProducing();
      return;
    }
    this.#producer = producer;
    this.#streaming = streaming;
    this.#producerPaused = false;
    if (!streaming) {
      this.#pullRequested = true;
      producer.resumeProducing();
    }
  }

  unregisterProducer(): void {
    this.#producer = null;
  }

  /** Closes after what is buffered is flushed. */
  loseConnection(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.stream.destroyed) return;
    this.stream.once("finish", () => this.stream.destroy());
    this.stream.end();
  }

  abort(): void {
    this.#closing = true;
    this.stream.destroy();
  }

  #drained(): void {
    if (this.#producer !== null && this.#streaming && this.#producerPaused) {
      this.#producerPaused = false;
      const producer = this.#producer;
      this.#callProducer("resumeProducing", () => producer.resumeProducing());
    }
  }

  /** A write reached the pipe: once the buffer is empty, ask a pull producer for the next chunk. */
  #flushed(): void {
    const producer = this.#producer;
    if (producer === null || this.#streaming || this.#pullRequested || this.#closing || this.stream.destroyed) return;
    if (this.stream.writableLength > 0) return;
    this.#pullRequested = true;
    this.#callProducer("resumeProducing", () => producer.resumeProducing());
  }

  #callProducer(method: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.failure("Unhandled error while calling producer {method}", err, { method });
    }
  }
}

function isNodeSignalName(name: ProcessSignal | NodeJS.Signals): name is NodeJS.Signals {
  return name.startsWith("SIG");
}

/** Node's `stdio` array for Twisted's `childFDs`; validates the directions Node supports. */
function stdioFor(childFDs: Readonly<Record<number, ChildFDTarget>>): (StdioPipe | StdioNull | number)[] {
  const entries = Object.entries(childFDs).map(([fd, target]) => [Number(fd), target] as const);
  const maxFD = Math.max(2, ...entries.map(([fd]) => fd));
  const stdio: (StdioPipe | StdioNull | number)[] = new Array<StdioNull>(maxFD + 1).fill("ignore");
  for (const [fd, target] of entries) {
    if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`childFDs key ${fd} is not a file descriptor`);
    if (typeof target === "number") {
      stdio[fd] = target;
    } else if ((fd === 0 && target === "r") || ((fd === 1 || fd === 2) && target === "w")) {
      throw new TypeError(`childFDs: fd ${fd} cannot be "${target}"; Node opens fd 0 for writing, 1 and 2 for reading`);
    } else if (target === "r" || target === "w") {
      stdio[fd] = "pipe";
    } else {
      throw new TypeError(`childFDs: fd ${fd} has ${String(target)}; expected "r", "w" or a parent fd`);
    }
  }
  return stdio;
}

/** The child's environment, following Twisted's spawnProcess (see the module comment). */
function childEnvironment(env: SpawnProcessOptions["env"]): NodeJS.ProcessEnv {
  if (env === null) return { ...process.env };
  if (process.platform === "win32") return { ...process.env, ...env };
  return { ...env };
}

/** Throws SpawnError unless `path` is a directory the child can chdir into. */
function checkDirectory(path: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new SpawnError("ENOENT", path, "The working directory does not exist");
  }
  if (!isDirectory) throw new SpawnError("ENOTDIR", path, "The working directory is not a directory");
}

/**
 * Throws SpawnError unless exec would find `executable`: a path with a slash is taken relative to the child's
 * working directory, a bare name is searched in the child's PATH as execvp (and libuv) do.
 */
function checkExecutable(executable: string, env: NodeJS.ProcessEnv, cwd: string): void {
  if (executable.includes("/")) {
    const status = executableStatus(resolve(cwd, executable));
    if (status !== "ok") throw new SpawnError(status, executable, "Cannot execute");
    return;
  }
  let denied = false;
  if (executable !== "") {
    for (const dir of (env.PATH ?? DEFAULT_PATH).split(delimiter)) {
      const status = executableStatus(resolve(cwd, dir, executable));
      if (status === "ok") return;
      if (status === "EACCES") denied = true;
    }
  }
  const searched = env.PATH === undefined ? `the default PATH ${DEFAULT_PATH}` : "the child's PATH";
  throw new SpawnError(denied ? "EACCES" : "ENOENT", executable, `No executable found in ${searched}`);
}

function executableStatus(file: string): "ok" | "ENOENT" | "EACCES" {
  try {
    if (!statSync(file).isFile()) return "EACCES";
    accessSync(file, fsConstants.X_OK);
    return "ok";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EACCES" ? "EACCES" : "ENOENT";
  }
}
