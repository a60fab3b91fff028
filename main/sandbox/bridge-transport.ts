/**
 * The transport a sandboxed protocol talks through, inside the worker (the other half is SandboxedProtocol, on the
 * main thread, connected to the real socket).
 *
 * It implements the core's ITransport so user code cannot tell it from core/tcp.ts's Connection: every command is
 * queued as an operation for the main thread, which applies it to the real transport in the same order. What must
 * be answered at once (`disconnecting`, the addresses, the TCP option getters, "a producer is already registered")
 * is answered here from local state; what depends on the socket (when to pause a producer) is decided on the main
 * thread by the real transport, with Twisted's rules (core/abstract.ts), and comes back as producer calls.
 *
 * A tapped proxy leg (a Tap, core/protocols/tap.ts) has its bytes forwarded by the main thread before the
 * protocol gets them: its transport throws TapWriteError at `write` and CannotStartTLSError at `startTLS`, so the
 * mistake halts the protocol with its source line on the timeline while the bytes go on flowing.
 *
 * TLS (ITLSTransport): `startTLS` is queued like a write, so what was written before it goes out in clear and what
 * is written after it is encrypted; the handshake's outcome comes back from the main thread (`handshakeCompleted`),
 * and `getTLSInfo()` / `getPeerCertificate()` answer from that report.
 */
import type { PeerCertificate } from "node:tls";
import { BaseTCPTransport, type Producer } from "../../core/abstract.ts";
import type { Address } from "../../core/address.ts";
import { CannotStartTLSError } from "../../core/errors.ts";
import { TapWriteError } from "../../core/protocols/tap.ts";
import type { Bytes, ITLSTransport, TLSInfo, TLSOptions } from "../../core/interfaces.ts";
import type { FromWorker, HandshakeReport, ProducerCall, WireTLSState } from "./messages.ts";
import { checkTLSRequest } from "./tls-request-check.ts";

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
export class BridgeTransport extends BaseTCPTransport implements ITLSTransport {
  private aborted = false;
  /** Whether the real transport can turn TLS. */
  private readonly tlsCapable: boolean;
  /** The last handshake the main thread reported, or null. */
  private handshake: HandshakeReport | null;
  /** `startTLS` was called and not refused: a second call throws. */
  private tlsStarted: boolean;

  constructor(
    /** The connection's id, shared with the main thread. */
    readonly id: number,
    peer: Address,
    host: Address,
    protected readonly sink: TransportSink,
    tls: WireTLSState = { capable: false, handshake: null },
    /** A tapped proxy leg's (see the file's comment). */
    private readonly tapped = false,
  ) {
    super(host, peer);
    this.tlsCapable = tls.capable;
    this.handshake = tls.handshake;
    this.tlsStarted = tls.handshake !== null;
  }

  protected writeData(data: Bytes): void {
    if (this.tapped) throw new TapWriteError();
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

  /**
   * Turns the connection TLS (Twisted's ITLSTransport.startTLS): on a connection the session opened Wirescope is
   * the TLS client, on an accepted one the server — with a certificate from Wirescope's CA (or the session's own
   * files) unless `options` give `cert` and `key`; on a proxy leg, the proxied pair is upgraded (both legs, with
   * the session's TLS settings). `options` are the TLSRequest subset of node:tls's (checkTLSRequest).
   *
   * Throws CannotStartTLSError at once where the worker can tell (a transport that can't do TLS, TLS already
   * started, the connection closing or closed) and a TypeError for options it can't take or past the engine's
   * limits. A refusal the main thread finds later (the real transport's) shows on the timeline as a protocol error
   * and aborts the connection: what the protocol writes after this call never goes out in clear.
   */
  startTLS(options?: TLSOptions): void {
    if (this.tapped) {
      throw new CannotStartTLSError(
        "A Tap can't start TLS: the bytes it decodes were forwarded already, so no byte is left to start it at.",
      );
    }
    if (!this.tlsCapable) throw new CannotStartTLSError("This connection can't turn TLS (it is not a TCP connection).");
    if (this.tlsStarted) throw new CannotStartTLSError("TLS is already started on this connection.");
    if (this.disconnecting || this.disconnected || this.writeClosed) {
      throw new CannotStartTLSError("The connection is closing or closed: TLS can't start on it.");
    }
    const request = checkTLSRequest(options);
    this.tlsStarted = true;
    this.sink.post({ op: "startTLS", id: this.id, request });
  }

  /** What the handshake agreed on, once the main thread reported it; null before and without TLS. */
  getTLSInfo(): TLSInfo | null {
    const details = this.handshake?.details;
    if (details === undefined || this.disconnected) return null;
    return { version: details.version, cipher: details.cipher, alpnProtocol: details.alpn, servername: details.sni };
  }

  /** The peer's certificate the main thread reported with the handshake; null before, without TLS or when none. */
  getPeerCertificate(): PeerCertificate | null {
    return this.handshake?.peerCertificate ?? null;
  }

  /** Called by the runtime when the main thread reports the handshake: returns what the protocol is told. */
  handshakeCompleted(report: HandshakeReport): TLSInfo | null {
    const certificate = report.peerCertificate;
    // Buffers cross threads as plain Uint8Arrays: give them back node:tls's type.
    if (certificate !== null) {
      certificate.raw = Buffer.from(certificate.raw);
      if (certificate.pubkey !== undefined) certificate.pubkey = Buffer.from(certificate.pubkey);
    }
    this.handshake = report;
    this.tlsStarted = true;
    return this.getTLSInfo();
  }

  /** Called by the runtime when the real transport refused `startTLS`: the connection stays plain. */
  startTLSRefused(): void {
    if (this.handshake === null) this.tlsStarted = false;
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
