/**
 * The two legs of a proxied connection (Twisted's portforward, src/twisted/protocols/portforward.py), each with an
 * optional protocol that reads and rewrites what passes.
 *
 * A leg is the inner protocol of its connection's RecordingProtocol, so whatever arrives on its socket is recorded
 * as "in" and whatever is written to its socket as "out". Without a protocol, a leg relays what arrives to the other
 * leg, as Twisted's Proxy does. With one, the leg hands what arrives to the protocol, whose `this.transport` is a
 * ForwardingTransport: what it writes goes to the other leg — `self.peer.transport.write(data)` in Twisted — so a
 * passthrough is `dataReceived(d) { this.transport.write(d) }`, and rewritten bytes are recorded as what was sent.
 *
 * A tap (core/protocols/tap.ts: a protocol that declares it never holds bytes back nor changes them) is the
 * exception: the leg forwards what arrives itself, at once, and then hands the tap the same bytes to decode. A
 * sandboxed tap decodes in its worker, off the path the bytes take; its backlog there is bounded as any sandboxed
 * protocol's (FLOW_HIGH_WATER pauses reading the leg, FLOW_LOW_WATER resumes it), and a halted tap's leg goes on
 * forwarding. Whether a leg is tapped is read from the protocol when the leg is built, before its first byte.
 *
 * Flow control is portforward's: each leg is registered as the streaming producer of the other's transport, so a
 * side that reads slowly pauses reading on the other. A leg's reading is paused while anything asks for it (waiting
 * for the upstream, the other leg's buffer is full, its protocol asked): one cause ending never undoes another.
 *
 * Closing is the proxy's business, not the protocols': a FIN on one leg shuts the other leg's write side, and a
 * leg's loss closes the other — each only after the leg's protocol has passed on what arrived before (a sandboxed
 * protocol consumes in its worker, later), so nothing it forwards is cut off.
 *
 * TLS is the pair's too (tls-pair.ts): a terminating proxy upgrades both legs as soon as they are connected, and a
 * leg protocol's `this.transport.startTLS()` upgrades both legs at that byte (STARTTLS). Both leg protocols then
 * hear `handshakeCompleted(details)` for their own leg and go on receiving plaintext.
 */
import type * as tls from "node:tls";
import {
  CannotStartTLSError,
  checkBytes,
  isTapClass,
  Protocol,
  TapWriteError,
  type Address,
  type Bytes,
  type IHalfCloseableProtocol,
  type IProtocol,
  type IPushProducer,
  type ITransport,
  type TLSInfo,
} from "../../core/index.ts";
import type { TLSDetails } from "../../preload/contract.ts";
import type { Leg } from "../../preload/timeline.ts";
import type { TLSRequest } from "../tls/tls-request.ts";
import type { ConnectionRecord, RecordingProtocol } from "./recording-protocol.ts";
import { isTLSHandshakeListener, type TLSHandshakeListener } from "./tls-stage.ts";

/** How a proxied pair turns TLS; given by the session to each accepted leg. */
export interface PairTLS {
  /** A terminating proxy: the pair upgrades as soon as both legs are connected, before any byte is read. */
  readonly terminate: boolean;
  /** Upgrades the pair (tls-pair.ts's upgradePair with the session's upstream); throws CannotStartTLSError. */
  upgrade(client: RecordingProtocol, server: RecordingProtocol, request: TLSRequest): void;
}

/** A protocol that consumes what it is given after `dataReceived` returns (a sandboxed one, in its worker). */
export interface DeferredConsumer {
  /**
   * Calls `callback` once every byte given so far was consumed and what the protocol wrote meanwhile was applied
   * (at once if nothing is pending, or the protocol gets no more callbacks).
   */
  whenConsumed(callback: () => void): void;
}

function defersConsumption(protocol: IProtocol): protocol is IProtocol & DeferredConsumer {
  return typeof (protocol as Partial<DeferredConsumer>).whenConsumed === "function";
}

/** Whether a leg's protocol is a tap: a core Tap, or a sandboxed protocol running one (SandboxedProtocol.tap). */
function isTap(protocol: IProtocol): boolean {
  return isTapClass(protocol.constructor) || (protocol as { tap?: unknown }).tap === true;
}

/** Why a leg is not read: it waits for the upstream, the other leg's buffer is full, or its protocol asked. */
type Hold = "upstream" | "peer" | "protocol";

/**
 * One leg of a proxied connection. The client leg (accepted) is built by `ProxyLeg.accepted`: once connected it
 * stops reading and asks for the upstream, and what its protocol writes meanwhile is kept, in order. The server
 * leg is built by `ProxyLeg.upstream` for it: once connected the two are paired, the kept bytes are sent, and
 * the client leg is read.
 *
 * A leg whose protocol is halted (it threw, or its worker was stopped) forwards nothing: the protocol owns
 * forwarding on its leg, and the bytes that arrive are recorded but go nowhere until a saved fix resumes it. A
 * tapped leg is the exception: it forwards itself, halted or not.
 */
export class ProxyLeg extends Protocol implements IHalfCloseableProtocol, TLSHandshakeListener {
  /** The other leg, from when both are connected until this leg's loss has been passed on. */
  peer: ProxyLeg | null = null;
  /** What this leg's protocol writes to: the other side. */
  readonly out = new ForwardingTransport(this);
  /** Bytes for the other side while the upstream is connecting (client leg only); null once paired or given up. */
  private waiting: Bytes[] | null;
  /** The client shut its write side before the upstream was connected: shut the upstream's once it is. */
  private shutWhenPaired = false;
  private readonly holds = new Set<Hold>();
  /** The protocol is a tap: this leg forwards what arrives, then gives the protocol a copy. */
  private readonly tapped: boolean;
  /** Whether the protocol was connected (a server leg whose client already left never connects it). */
  private protocolConnected = false;
  /** Registered on the other leg's transport: when its buffer fills up, this leg stops reading until it drains. */
  private readonly asProducer: IPushProducer = {
    pauseProducing: () => this.hold("peer"),
    resumeProducing: () => this.release("peer"),
    // The other leg was lost: this leg closes by itself once its protocol has passed on what it had (connectionLost).
    stopProducing: () => {},
  };

  private constructor(
    readonly leg: Leg,
    /** The protocol running on this leg, or null to relay raw bytes. */
    private readonly protocol: IProtocol | null,
    /** Client leg: opens the upstream connection for it. */
    private readonly openUpstream: ((client: ProxyLeg) => void) | null,
    /** Server leg: the client leg it was opened for. */
    private readonly client: ProxyLeg | null,
    /** How the pair turns TLS (kept by the client leg; the server leg asks its client's). */
    private readonly pairTLS: PairTLS,
  ) {
    super();
    this.waiting = leg === "client" ? [] : null;
    this.tapped = protocol !== null && isTap(protocol);
  }

  /** The leg of an accepted connection; `openUpstream` is called once it is connected. */
  static accepted(protocol: IProtocol | null, openUpstream: (client: ProxyLeg) => void, pairTLS: PairTLS): ProxyLeg {
    return new ProxyLeg("client", protocol, openUpstream, null, pairTLS);
  }

  /** The upstream leg opened for `client`. */
  static upstream(client: ProxyLeg, protocol: IProtocol | null): ProxyLeg {
    return new ProxyLeg("server", protocol, null, client, client.pairTLS);
  }

  /** The recording wrapper of this leg's connection: its transport. */
  wrapper(): RecordingProtocol {
    return this.transport as RecordingProtocol;
  }

  /** The recorded connection this leg runs on (its transport is the RecordingProtocol). */
  record(): ConnectionRecord {
    return this.wrapper().connection;
  }

  /**
   * Upgrades this proxied connection to TLS now, both legs (see PairTLS): called through a leg protocol's
   * ForwardingTransport. Throws CannotStartTLSError on a tapped leg, when the other leg is not connected, or when
   * either leg can't.
   */
  startTLS(request: TLSRequest): void {
    if (this.tapped) throw new CannotStartTLSError("A Tap can't start TLS: what it decodes was forwarded already.");
    const peer = this.peer;
    if (peer === null)
      throw new CannotStartTLSError("The other leg of this proxied connection is not connected: TLS can't start.");
    const [client, server] = this.leg === "client" ? [this, peer] : [peer, this];
    this.pairTLS.upgrade(client.wrapper(), server.wrapper(), request);
  }

  /** This leg's handshake completed (after its "tls" event): its protocol hears of it. */
  handshakeCompleted(details: TLSDetails): void {
    if (this.protocolConnected && isTLSHandshakeListener(this.protocol)) this.protocol.handshakeCompleted(details);
  }

  override connectionMade(): void {
    if (this.client === null) {
      this.hold("upstream");
      this.openUpstream?.(this);
      this.connectProtocol();
      return;
    }
    const client = this.client;
    if (!client.connected) {
      this.transport.loseConnection(); // The client left while the upstream was connecting.
      return;
    }
    this.peer = client;
    client.peer = this;
    this.transport.registerProducer(client.asProducer, true);
    client.transport.registerProducer(this.asProducer, true);
    // Terminating: both legs turn TLS before anything kept or read is passed on (held, then sent encrypted).
    if (this.pairTLS.terminate) this.pairTLS.upgrade(client.wrapper(), this.wrapper(), {});
    client.paired();
    this.connectProtocol();
  }

  private connectProtocol(): void {
    if (this.protocol === null) return;
    this.protocolConnected = true;
    this.protocol.makeConnection(this.out);
  }

  /** Client leg: the upstream is connected. Sends what was kept for it, then reads. */
  private paired(): void {
    const kept = this.waiting ?? [];
    this.waiting = null;
    if (kept.length > 0) this.forward(kept);
    if (this.shutWhenPaired) this.peer?.transport.loseWriteConnection();
    this.release("upstream");
  }

  /** Client leg: the upstream could not be reached. Called by the session; closes this leg. */
  upstreamFailed(): void {
    this.waiting = null;
    this.transport.loseConnection();
  }

  /**
   * Bytes arrived on this leg: they are relayed as they are (no protocol, or a tap, which gets them next), or its
   * protocol gets them and forwards what it chooses.
   */
  override dataReceived(data: Bytes): void {
    if (this.protocol === null || this.tapped) this.forward([data]);
    this.protocol?.dataReceived(data);
  }

  /** What this leg's protocol wrote, for the other side: a tap may not write (TapWriteError). */
  written(chunks: readonly Bytes[]): void {
    if (this.tapped) throw new TapWriteError();
    this.forward(chunks);
  }

  /**
   * Writes to the other side: to the other leg's transport, kept in order while the upstream is connecting, and
   * dropped once the other side is gone. Called by `out` and by the raw relay.
   */
  forward(chunks: readonly Bytes[]): void {
    for (const chunk of chunks) checkBytes(chunk);
    if (this.peer !== null) {
      if (chunks.length === 1) this.peer.transport.write(chunks[0]!);
      else this.peer.transport.writeSequence(chunks);
    } else {
      this.waiting?.push(...chunks);
    }
  }

  /**
   * The other end of this leg shut its write side (FIN): once this leg's protocol has passed on what came before,
   * shut the other leg's write side. The protocol is not told: by the core's rule a protocol that is not
   * half-closeable would close its leg, cutting off the answer still to come the other way.
   */
  readConnectionLost(): void {
    this.afterProtocol(() => {
      if (this.peer !== null) this.peer.transport.loseWriteConnection();
      else if (this.waiting !== null) this.shutWhenPaired = true;
    });
  }

  /** Our write side was shut (the FIN passed on from the other leg): nothing to do. */
  writeConnectionLost(): void {}

  /**
   * This leg is gone: its protocol is told, then, once the protocol has passed on what it had, the other leg is
   * closed (after flushing).
   */
  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.waiting = null;
    if (this.protocolConnected) this.protocol?.connectionLost(reason);
    const peer = this.peer;
    if (peer === null) return;
    try {
      // This leg produces nothing more: its producer must not hold back the other leg's close.
      peer.transport.unregisterProducer();
    } catch {
      // not registered
    }
    this.afterProtocol(() => {
      this.peer = null;
      peer.peer = null;
      peer.transport.loseConnection();
    });
  }

  /** Pauses reading this leg for `why` (see the class comment). Called by the leg, its producer and `out`. */
  hold(why: Hold): void {
    if (this.holds.has(why)) return;
    this.holds.add(why);
    if (this.holds.size === 1) this.transport.pauseProducing();
  }

  /** Ends the pause for `why`; reads again once nothing else holds the leg. */
  release(why: Hold): void {
    if (this.holds.delete(why) && this.holds.size === 0) this.transport.resumeProducing();
  }

  /** Runs `then` once this leg's protocol has consumed what it was given (at once without one). */
  private afterProtocol(then: () => void): void {
    const protocol = this.protocol;
    if (protocol !== null && defersConsumption(protocol)) protocol.whenConsumed(then);
    else then();
  }
}

/**
 * The transport a proxy leg's protocol is connected to: what it writes goes to the other side (ProxyLeg.forward).
 * Everything else concerns its own leg: closing, half-closing, addresses, TCP options, and pausing reading (as
 * one more cause, next to the proxy's own flow control).
 *
 * A protocol on a proxy leg cannot register a producer: the legs already are each other's (portforward's flow
 * control), and a transport takes only one.
 */
export class ForwardingTransport implements ITransport {
  constructor(private readonly leg: ProxyLeg) {}

  get disconnecting(): boolean {
    return this.leg.transport.disconnecting;
  }

  /** Sends `data` to the other side; throws TapWriteError on a tapped leg (its bytes were forwarded already). */
  write(data: Bytes): void {
    this.leg.written([data]);
  }

  writeSequence(data: readonly Bytes[]): void {
    this.leg.written(data);
  }

  loseConnection(): void {
    this.leg.transport.loseConnection();
  }

  abortConnection(): void {
    this.leg.transport.abortConnection();
  }

  loseWriteConnection(): void {
    this.leg.transport.loseWriteConnection();
  }

  getPeer(): Address {
    return this.leg.transport.getPeer();
  }

  getHost(): Address {
    return this.leg.transport.getHost();
  }

  setTcpNoDelay(enabled: boolean): void {
    this.leg.transport.setTcpNoDelay(enabled);
  }

  getTcpNoDelay(): boolean {
    return this.leg.transport.getTcpNoDelay();
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.leg.transport.setTcpKeepAlive(enabled);
  }

  getTcpKeepAlive(): boolean {
    return this.leg.transport.getTcpKeepAlive();
  }

  pauseProducing(): void {
    this.leg.hold("protocol");
  }

  resumeProducing(): void {
    this.leg.release("protocol");
  }

  stopProducing(): void {
    this.leg.transport.stopProducing();
  }

  /**
   * Upgrades the proxied connection to TLS (both legs, ProxyLeg.startTLS): what was forwarded before goes out in
   * clear, what is forwarded after, encrypted. Throws CannotStartTLSError.
   */
  startTLS(request: TLSRequest = {}): void {
    this.leg.startTLS(request);
  }

  /** What this leg's handshake agreed on, once it completed; null before and without TLS. */
  getTLSInfo(): TLSInfo | null {
    return this.leg.wrapper().getTLSInfo();
  }

  /** This leg's peer's certificate once its handshake completed; null otherwise. */
  getPeerCertificate(): tls.PeerCertificate | null {
    return this.leg.wrapper().getPeerCertificate();
  }

  registerProducer(): never {
    throw new Error(
      "A protocol on a proxy leg cannot register a producer: the proxy registers each leg as the other's " +
        "(Twisted's portforward), so a slow side already slows the other.",
    );
  }

  /** Nothing can have been registered (see registerProducer). */
  unregisterProducer(): void {}
}
