/**
 * What every transport shares, written once (src/twisted/internet/abstract.py: FileDescriptor and _ConsumerMixin).
 *
 * BaseTransport is the part that assumes nothing about what carries the bytes — a socket, a pipe, a message
 * channel, memory: the addresses, the `disconnecting` / `disconnected` flags, the bytes check and "writes after
 * the close are dropped" of `write`, and the registered producer with Twisted's rules. BaseTCPTransport adds the
 * TCP options, which only a transport over TCP (or standing in for one) has.
 *
 * A new transport extends one of them and implements:
 * - `writeData(data)`: hand non-empty bytes on (to the socket, the pipe, the other thread...); optionally
 *   `writeChunks(list)` to hand on a `writeSequence` as one batch.
 * - `loseConnection()`, `abortConnection()`, `loseWriteConnection()`: how it closes. They set `disconnecting`
 *   and `writeClosed` as ITransport says, and `markDisconnected()` once the connection is gone for good.
 * - `stopReading()` / `startReading()` if it reads from something it can pause (else pausing does nothing).
 * - `writeBuffer`, if it keeps its own unsent bytes in a Node Writable, and a call to `bufferDrained()` on that
 *   Writable's 'drain': the producer rules then run here. A transport without a buffer of its own (an in-memory
 *   one, or one whose buffer is in another process or thread) keeps the default null: its producer is kept,
 *   guarded and stopped on loss, but never paused or resumed here.
 * - `applyTcpNoDelay` / `applyTcpKeepAlive` (BaseTCPTransport) if there is a socket to apply them to.
 */
import type { Address } from "./address.ts";
import { checkBytes } from "./bytes.ts";
import type { Bytes, IPullProducer, IPushProducer, ITransport } from "./interfaces.ts";
import { Logger } from "./logger.ts";

const log = new Logger("wirescope.core.abstract");

/** A streaming producer is paused when more than this many bytes wait to be written (Twisted's bufferSize). */
export const bufferSize = 2 ** 16;

/** A producer as a consumer holds it: push (streaming) or pull. */
export type Producer = IPushProducer | IPullProducer;

/** The part of a Node Writable the producer rules watch (a net.Socket, a child's stdin). */
export interface WriteBuffer {
  /** Bytes queued and not yet handed to the kernel. */
  readonly writableLength: number;
  /** A write returned false: 'drain' will be emitted. */
  readonly writableNeedDrain: boolean;
}

/** ITransport's TCP options (Twisted's ITCPTransport), which BaseTransport leaves out. */
type TCPOptionMethods = "setTcpNoDelay" | "getTcpNoDelay" | "setTcpKeepAlive" | "getTcpKeepAlive";

/**
 * A transport, less what carries its bytes. Owned by whoever created it (a connector, a port, the sandbox
 * runtime, a decode), which gives it its two addresses for good at construction.
 *
 * Guarantees, to the protocol: `write` and `writeSequence` throw TypeError for anything but bytes, and drop
 * what comes once the write side is shut (`writeClosed`) or the connection gone (`disconnected`); a
 * second `registerProducer` throws; on a transport already gone, `registerProducer` calls `stopProducing()` at
 * once; once gone, the producer is stopped and detached. Where the transport has a `writeBuffer`: a streaming
 * producer is paused when more than `bufferSize` bytes wait and resumed on drain, a pull producer is resumed on
 * register and each time the buffer has room again, and `producerWaiting` tells the transport to hold a close
 * back for it, as Twisted's doWrite does.
 */
export abstract class BaseTransport implements Omit<ITransport, TCPOptionMethods> {
  /** True from `loseConnection()` / `abortConnection()` on, and once the connection is gone. */
  disconnecting = false;
  /** True once the connection is gone for good (`markDisconnected()`). */
  disconnected = false;
  /** Our write side is shut (a close or half-close began): writes are dropped from now on. */
  protected writeClosed = false;
  private registered: Producer | null = null;
  private producerStreaming = false;
  private producerPaused = false;

  constructor(
    /** The local address, as `getHost()` answers it. */
    protected readonly host: Address,
    /** The remote address, as `getPeer()` answers it. */
    protected readonly peer: Address,
  ) {}

  getHost(): Address {
    return this.host;
  }

  getPeer(): Address {
    return this.peer;
  }

  write(data: Bytes): void {
    checkBytes(data);
    if (this.writeClosed || this.disconnected || data.byteLength === 0) return;
    this.writeData(data);
    this.pauseProducerIfFull();
  }

  /** Checks every chunk before writing any: a non-bytes chunk throws TypeError and nothing is written. */
  writeSequence(data: readonly Bytes[]): void {
    for (const chunk of data) checkBytes(chunk);
    if (this.writeClosed || this.disconnected) return;
    this.writeChunks(data);
    this.pauseProducerIfFull();
  }

  /** Hands non-empty bytes on; called only while the write side is open. */
  protected abstract writeData(data: Bytes): void;

  /** Hands a `writeSequence` on; by default chunk by chunk through `writeData`, skipping empty ones. */
  protected writeChunks(data: readonly Bytes[]): void {
    for (const chunk of data) if (chunk.byteLength > 0) this.writeData(chunk);
  }

  abstract loseConnection(): void;
  abstract abortConnection(): void;
  abstract loseWriteConnection(): void;

  /** Stops delivering received data (this transport as the producer of the protocol's data). */
  pauseProducing(): void {
    if (!this.disconnected) this.stopReading();
  }

  /** Delivers received data again; ignored once disconnecting, as in Twisted. */
  resumeProducing(): void {
    if (this.disconnecting || this.disconnected) return;
    this.startReading();
  }

  /** Twisted's FileDescriptor.stopProducing: closes the connection. */
  stopProducing(): void {
    this.loseConnection();
  }

  /** Stops reading from the source; by default there is none to stop (reading goes on whatever is asked). */
  protected stopReading(): void {}

  /** Reads from the source again; by default there is none. */
  protected startReading(): void {}

  /** The registered producer, or null. */
  get producer(): Producer | null {
    return this.registered;
  }

  /** Whether the registered producer is a streaming (push) one; meaningless while none is registered. */
  protected get streamingProducer(): boolean {
    return this.producerStreaming;
  }

  registerProducer(producer: Producer, streaming: boolean): void {
    if (this.registered !== null) {
      throw new Error(
        `Cannot register two producers: ${String(producer)} was registered while ${String(this.registered)} ` +
          "was never unregistered.",
      );
    }
    if (this.disconnected) {
      producer.stopProducing();
      return;
    }
    this.registered = producer;
    this.producerStreaming = streaming;
    this.producerPaused = false;
    if (this.writeBuffer === null) return;
    if (streaming) this.pauseProducerIfFull();
    else this.resumePullProducer();
  }

  /** Detaches the producer, if any; a close it was holding back may then go on (`producerUnregistered`). */
  unregisterProducer(): void {
    if (this.registered === null) return;
    this.registered = null;
    this.producerPaused = false;
    this.producerUnregistered();
  }

  /** Called after `unregisterProducer()` detached a producer (Twisted calls startWriting there). Default: nothing. */
  protected producerUnregistered(): void {}

  /**
   * Detaches the producer without `producerUnregistered()`: for a producer the other side already stopped. The
   * one that was registered is returned.
   */
  protected detachProducer(): Producer | null {
    const producer = this.registered;
    this.registered = null;
    this.producerPaused = false;
    return producer;
  }

  /**
   * Where this transport's unsent bytes wait, for the producer rules; null (the default) when it keeps none.
   * Read on each use, so a transport may swap what it writes to (a TLS layer put over its socket).
   */
  protected get writeBuffer(): WriteBuffer | null {
    return null;
  }

  /**
   * A pull producer, or a streaming one paused on a full buffer: it waits for the buffer to drain, and so does a
   * `loseConnection()` (Twisted's doWrite closes only once no such producer is registered).
   */
  protected get producerWaiting(): boolean {
    return this.registered !== null && (!this.producerStreaming || this.producerPaused);
  }

  /** Called by the transport on its `writeBuffer`'s 'drain': a waiting producer is resumed. */
  protected bufferDrained(): void {
    if (this.disconnected || !this.producerWaiting) return;
    this.producerPaused = false;
    this.registered?.resumeProducing();
    if (!this.producerStreaming) this.pullAgainIfRoom();
  }

  private pauseProducerIfFull(): void {
    const buffer = this.writeBuffer;
    if (buffer === null || this.registered === null || !this.producerStreaming || this.producerPaused) return;
    if (buffer.writableLength > bufferSize) {
      this.producerPaused = true;
      (this.registered as IPushProducer).pauseProducing();
    }
  }

  private resumePullProducer(): void {
    this.registered?.resumeProducing();
    this.pullAgainIfRoom();
  }

  /**
   * A pull producer is asked again, on a later turn, as long as its writes leave the buffer below its high-water
   * mark; past it, 'drain' asks again (`bufferDrained`).
   */
  private pullAgainIfRoom(): void {
    if (
      this.registered === null ||
      this.producerStreaming ||
      this.disconnected ||
      this.writeBuffer?.writableNeedDrain !== false
    ) {
      return;
    }
    const producer = this.registered;
    setImmediate(() => {
      if (this.registered === producer && !this.disconnected && this.writeBuffer?.writableNeedDrain === false) {
        producer.resumeProducing();
        this.pullAgainIfRoom();
      }
    });
  }

  /**
   * Marks the connection gone for good (Twisted's FileDescriptor.connectionLost): `disconnected` and
   * `disconnecting` true, and the producer detached and stopped (an error it throws is logged). Called once by
   * the transport, before it tells the protocol.
   */
  protected markDisconnected(): void {
    this.disconnected = true;
    this.disconnecting = true;
    const producer = this.detachProducer();
    if (producer === null) return;
    try {
      producer.stopProducing();
    } catch (err) {
      log.failure("Error in stopProducing of a producer on connection loss", err);
    }
  }
}

/**
 * A BaseTransport over TCP, or standing in for one: it remembers TCP_NODELAY and SO_KEEPALIVE as last set
 * through it (false at start), since Node has no getters for them, and applies them with `applyTcpNoDelay` /
 * `applyTcpKeepAlive` where there is a socket.
 */
export abstract class BaseTCPTransport extends BaseTransport implements ITransport {
  private noDelay = false;
  private keepAlive = false;

  setTcpNoDelay(enabled: boolean): void {
    this.noDelay = enabled;
    this.applyTcpNoDelay(enabled);
  }

  /** The last value set through this transport (false at start). */
  getTcpNoDelay(): boolean {
    return this.noDelay;
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.keepAlive = enabled;
    this.applyTcpKeepAlive(enabled);
  }

  /** The last value set through this transport (false at start). */
  getTcpKeepAlive(): boolean {
    return this.keepAlive;
  }

  /** Sets TCP_NODELAY on the socket, after the value is remembered; by default there is no socket here. */
  protected applyTcpNoDelay(_enabled: boolean): void {}

  /** Sets SO_KEEPALIVE on the socket, after the value is remembered; by default there is no socket here. */
  protected applyTcpKeepAlive(_enabled: boolean): void {}
}
