/**
 * The transport a sandboxed protocol talks through, inside the worker (the other half is SandboxedProtocol, on the
 * main thread, connected to the real socket).
 *
 * It implements the core's ITransport so user code cannot tell it from core/tcp.ts's Connection: every command is
 * queued as an operation for the main thread, which applies it to the real transport in the same order. What must
 * be answered at once (`disconnecting`, the addresses, the TCP option getters, "a producer is already registered")
 * is answered here from local state; what depends on the socket (when to pause a producer) is decided on the main
 * thread by the real transport, with Twisted's rules (core/abstract.ts), and comes back as producer calls.
 */
import { BaseTCPTransport, type Producer } from "../../core/abstract.ts";
import type { Address } from "../../core/address.ts";
import type { Bytes } from "../../core/interfaces.ts";
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
 * The checks, the addresses, the TCP options' memory and the producer's guard are core/abstract.ts's.
 */
export class BridgeTransport extends BaseTCPTransport {
  private aborted = false;

  constructor(
    /** The connection's id, shared with the main thread. */
    readonly id: number,
    peer: Address,
    host: Address,
    private readonly sink: TransportSink,
  ) {
    super(host, peer);
  }

  protected writeData(data: Bytes): void {
    this.sink.write(this.id, data);
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
    this.writeClosed = true;
    this.sink.post({ op: "abortConnection", id: this.id });
  }

  loseWriteConnection(): void {
    if (this.writeClosed || this.disconnected) return;
    this.writeClosed = true;
    this.sink.post({ op: "loseWriteConnection", id: this.id });
  }

  protected override applyTcpNoDelay(enabled: boolean): void {
    if (!this.disconnected) this.sink.post({ op: "setTcpNoDelay", id: this.id, enabled });
  }

  protected override applyTcpKeepAlive(enabled: boolean): void {
    if (!this.disconnected) this.sink.post({ op: "setTcpKeepAlive", id: this.id, enabled });
  }

  /**
   * Registers a producer. The real transport on the main thread decides when it is paused (more than 64 KiB
   * buffered), resumed (drained) or stopped (connection lost); those calls come back through `producerCall`.
   */
  override registerProducer(producer: Producer, streaming: boolean): void {
    super.registerProducer(producer, streaming);
    if (this.producer === producer) this.sink.post({ op: "registerProducer", id: this.id, streaming });
  }

  protected override producerUnregistered(): void {
    if (!this.disconnected) this.sink.post({ op: "unregisterProducer", id: this.id });
  }

  /** Stops reading from the real socket. */
  protected override stopReading(): void {
    this.sink.post({ op: "pauseProducing", id: this.id });
  }

  protected override startReading(): void {
    this.sink.post({ op: "resumeProducing", id: this.id });
  }

  /**
   * Called by the runtime when the real transport calls the proxy producer: forwards to the registered producer.
   * A call that arrives after the producer was unregistered is dropped.
   */
  producerCall(call: ProducerCall): void {
    const producer = this.producer;
    if (producer === null) return;
    if (call === "stopProducing") this.detachProducer();
    if (call === "pauseProducing") {
      if ("pauseProducing" in producer) producer.pauseProducing();
    } else {
      producer[call]();
    }
  }

  /**
   * Called by the runtime when the real connection is gone. Whether the producer is stopped is the real
   * transport's decision (its stopProducing comes through `producerCall`): one still registered is dropped here,
   * not stopped.
   */
  lost(): void {
    this.detachProducer();
    this.markDisconnected();
  }

  override toString(): string {
    return `<BridgeTransport #${this.id} ${this.peer.toString()}>`;
  }
}
