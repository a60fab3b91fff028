/**
 * The transport a sandboxed protocol of a process session talks through, inside the worker: a BridgeTransport with
 * the core's process transport's own commands (core/process.ts, IProcessTransport), so a ProcessProtocol subclass
 * runs here as it would on `spawnProcess`. Its writes feed the child's stdin, recorded by the engine as any other.
 *
 * The child itself is the user's (the sandbox still refuses `spawnProcess`): the protocol can write to it, close its
 * stdin and signal it, not close its stdout or stderr, which the engine keeps reading and recording.
 */
import type { Address } from "../../core/address.ts";
import { ProcessExitedAlready } from "../../core/errors.ts";
import type { Bytes } from "../../core/interfaces.ts";
import type { IProcessTransport, ProcessSignal } from "../../core/process.ts";
import { BridgeTransport, type TransportSink } from "./bridge-transport.ts";
import type { WireTLSState } from "./messages.ts";

/**
 * A process session's transport (worker side). Created by the runtime for a connection whose peer is a process;
 * owned by it like any BridgeTransport. `pid` is the child's while it runs, null once the protocol heard it exited.
 */
export class BridgeProcessTransport extends BridgeTransport implements IProcessTransport {
  #pid: number | null;

  constructor(id: number, peer: Address, host: Address, sink: TransportSink, tls: WireTLSState, pid: number | null) {
    super(id, peer, host, sink, tls);
    this.#pid = pid;
  }

  get pid(): number | null {
    return this.#pid;
  }

  /** Writes to the child's fd `childFD`: only its stdin (fd 0) is a pipe Wirescope writes to. */
  writeToChild(childFD: number, data: Bytes): void {
    if (childFD !== 0) throw new RangeError(`The child's fd ${childFD} is not open for writing: only stdin (0) is.`);
    this.write(data);
  }

  /** Closes the pipe to the child's fd `childFD`: only its stdin, as the engine keeps reading the others. */
  closeChildFD(childFD: number): void {
    if (childFD !== 0) {
      throw new RangeError(
        `The child's fd ${childFD} stays open: Wirescope reads and records it until the child ends.`,
      );
    }
    this.loseWriteConnection();
  }

  /** Closes the child's stdin once what was written is flushed (the half-close of a process transport). */
  closeStdin(): void {
    this.closeChildFD(0);
  }

  /** Refused: see closeChildFD. */
  closeStdout(): void {
    this.closeChildFD(1);
  }

  /** Refused: see closeChildFD. */
  closeStderr(): void {
    this.closeChildFD(2);
  }

  /**
   * Sends `signal` to the child ("TERM", "SIGTERM"; the engine checks the name). Throws ProcessExitedAlready once the
   * protocol heard the child exited; a refusal decided later on the main thread is reported as an error of the
   * protocol.
   */
  signalProcess(signal: ProcessSignal | NodeJS.Signals | number): void {
    if (this.#pid === null) throw new ProcessExitedAlready();
    if (!this.disconnected) this.sink.post({ op: "signalProcess", id: this.id, signal });
  }

  /** The child exited: it can't be signalled any more. */
  exited(): void {
    this.#pid = null;
  }
}
