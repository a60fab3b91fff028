/**
 * The transport a process session's protocol gets (the main-thread half of a sandboxed protocol connects to it): its
 * writes feed the child's stdin through the session's RecordingProcessProtocol, so they are recorded like the send
 * box's; a half-close or a close closes stdin, an abort kills the child; pausing it pauses reading the child's output.
 *
 * Passive (a `wirescope wrap`, whose conversation belongs to the program it relays for, as decode/passive-transport.ts
 * for a decode): the protocol only watches. What it writes goes nowhere, its closes and signals are ignored, so
 * not a byte of the relay changes; only its pauses count, as flow control while it lags behind.
 */
import { constants as osConstants } from "node:os";
import { BaseTCPTransport } from "../../core/abstract.ts";
import { ProcessAddress } from "../../core/address.ts";
import type { Bytes } from "../../core/interfaces.ts";
import type { ChildTransport } from "../sandbox/sandboxed-protocol.ts";
import type { RecordingProcessProtocol } from "./recording-process-protocol.ts";

/** Whether `signal` names a signal this platform knows ("SIGTERM", "TERM") or is a number. */
function isKnownSignal(signal: string | number): signal is NodeJS.Signals | number {
  return typeof signal === "number" || signal in osConstants.signals;
}

/**
 * One child's transport for its protocol. Created by the RecordingProcessProtocol that records the child, once it
 * runs; the protocol talks through it until the child ends.
 */
export class ChildProtocolTransport extends BaseTCPTransport implements ChildTransport {
  constructor(
    private readonly child: RecordingProcessProtocol,
    /** The protocol only watches (see the file's comment). */
    readonly passive: boolean,
  ) {
    super(new ProcessAddress(), new ProcessAddress());
  }

  get pid(): number | null {
    return this.child.pid;
  }

  protected writeData(data: Bytes): void {
    if (!this.passive && this.child.acceptsInput) this.child.write(data, "protocol");
  }

  loseConnection(): void {
    this.loseWriteConnection();
  }

  loseWriteConnection(): void {
    if (!this.passive && this.child.acceptsInput) this.child.closeStdin();
  }

  abortConnection(): void {
    if (!this.passive) this.child.kill();
  }

  /** Sends `signal` to the child; refused on a passive transport, for an unknown name, or once it exited. */
  signalProcess(signal: string | number): void {
    if (this.passive) throw new Error("A protocol on a wrap only watches: it can't signal the command.");
    const name = typeof signal === "string" && !signal.startsWith("SIG") ? `SIG${signal}` : signal;
    if (!isKnownSignal(name)) throw new TypeError(`Unknown signal: ${String(signal)}`);
    this.child.signal(name);
  }

  protected override stopReading(): void {
    this.child.pauseReading("protocol");
  }

  protected override startReading(): void {
    this.child.resumeReading("protocol");
  }
}
