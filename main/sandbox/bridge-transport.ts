/**
 * The transport a sandboxed protocol talks through, inside the worker (the other half is SandboxedProtocol, on the
 * main thread, connected to the real socket).
 *
 * It implements the core's ITransport so user code cannot tell it from core/tcp.ts's Connection: every command is
 * queued as an operation for the main thread, which applies it to the real transport in the same order. What must
 * be answered at once (`disconnecting`, the addresses, the TCP option getters, "a producer is already registered")
 * is answered here from local state; what depends on the socket (when to pause a producer) is decided on the main
 * thread by the real transport, with Twisted's rules (core/tcp.ts), and comes back as producer calls.
 */
import { checkBytes } from "../../core/bytes.ts";
import type { Address } from "../../core/address.ts";
import type { Bytes, IPullProducer, IPushProducer, ITransport } from "../../core/interfaces.ts";
import type { FromWorker, ProducerCall } from "./messages.ts";

/** Where a BridgeTransport sends its commands (the worker's outbox). */
export interface TransportSink {
  /** Queues bytes to write on connection `id`. */
  write(id: number, data: Bytes): void;
  /** Queues a command. */
  post(op: FromWorker): void;
}

/**
 * A sandboxed connection's transport (worker side). Owned by the sandbox runtime, which creates one per attached
 * connection and calls `lost()` when the real connection is gone.
 *
 * Guarantees: commands reach the real transport in call order, and writes made in one turn reach it as one
 * write; writes after `loseConnection()`, `abortConnection()`, `loseWriteConnection()` or the loss are dropped
 * silently (as core/tcp.ts drops them); `disconnecting` is true from `loseConnection()`/`abortConnection()` on.
 */
export class BridgeTransport implements ITransport {
  disconnecting = false;
  /** True once the real connection is gone. */
  disconnected = false;
  private writeClosed = false;
  private aborted = false;
  private producer: IPushProducer | IPullProducer | null = null;
  private noDelay = false;
  private keepAlive = false;

  constructor(
    /** The connection's id, shared with the main thread. */
    readonly id: number,
    private readonly peer: Address,
    private readonly host: Address,
    private readonly sink: TransportSink,
  ) {}

  write(data: Bytes): void {
    checkBytes(data);
    if (this.writeClosed || this.disconnected || this.aborted) return;
    this.sink.write(this.id, data);
  }

  writeSequence(data: readonly Bytes[]): void {
    for (const chunk of data) checkBytes(chunk);
    if (this.writeClosed || this.disconnected || this.aborted) return;
    for (const chunk of data) this.sink.write(this.id, chunk);
  }

  loseConnection(): void {
    if (this.disconnecting || this.disconnected) return;
    this.disconnecting = true;
    this.sink.post({ op: "loseConnection", id: this.id });
  }

  abortConnection(): void {
    if (this.aborted || this.disconnected) return;
    this.aborted = true;
    this.disconnecting = true;
    this.sink.post({ op: "abortConnection", id: this.id });
  }

  loseWriteConnection(): void {
    if (this.writeClosed || this.disconnected) return;
    this.writeClosed = true;
    this.sink.post({ op: "loseWriteConnection", id: this.id });
  }

  getPeer(): Address {
    return this.peer;
  }

  getHost(): Address {
    return this.host;
  }

  setTcpNoDelay(enabled: boolean): void {
    this.noDelay = enabled;
    if (!this.disconnected) this.sink.post({ op: "setTcpNoDelay", id: this.id, enabled });
  }

  /** The last value set through this transport (false at start), as core/tcp.ts answers. */
  getTcpNoDelay(): boolean {
    return this.noDelay;
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.keepAlive = enabled;
    if (!this.disconnected) this.sink.post({ op: "setTcpKeepAlive", id: this.id, enabled });
  }

  /** The last value set through this transport (false at start), as core/tcp.ts answers. */
  getTcpKeepAlive(): boolean {
    return this.keepAlive;
  }

  /**
   * Registers a producer. The real transport on the main thread decides when it is paused (more than 64 KiB
   * buffered), resumed (drained) or stopped (connection lost); those calls come back through `producerCall`.
   */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    if (this.producer !== null) {
      throw new Error(
        `Cannot register producer ${String(producer)}, because producer ${String(this.producer)} was never unregistered.`,
      );
    }
    if (this.disconnected) {
      producer.stopProducing();
      return;
    }
    this.producer = producer;
    this.sink.post({ op: "registerProducer", id: this.id, streaming });
  }

  unregisterProducer(): void {
    if (this.producer === null) return;
    this.producer = null;
    if (!this.disconnected) this.sink.post({ op: "unregisterProducer", id: this.id });
  }

  /** Stops reading from the real socket. */
  pauseProducing(): void {
    if (!this.disconnected) this.sink.post({ op: "pauseProducing", id: this.id });
  }

  /** Reads again; ignored once disconnecting, as in Twisted. */
  resumeProducing(): void {
    if (this.disconnecting || this.disconnected) return;
    this.sink.post({ op: "resumeProducing", id: this.id });
  }

  /** Twisted's FileDescriptor.stopProducing: closes the connection. */
  stopProducing(): void {
    this.loseConnection();
  }

  /**
   * Called by the runtime when the real transport calls the proxy producer: forwards to the registered producer.
   * A call that arrives after the producer was unregistered is dropped.
   */
  producerCall(call: ProducerCall): void {
    const producer = this.producer;
    if (producer === null) return;
    if (call === "stopProducing") this.producer = null;
    if (call === "pauseProducing") {
      if ("pauseProducing" in producer) producer.pauseProducing();
    } else {
      producer[call]();
    }
  }

  /** Called by the runtime when the real connection is gone. */
  lost(): void {
    this.disconnected = true;
    this.disconnecting = true;
    this.producer = null;
  }

  toString(): string {
    return `<BridgeTransport #${this.id} ${this.peer.toString()}>`;
  }
}
