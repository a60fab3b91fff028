/**
 * Resource-limiting policies (src/twisted/protocols/policies.py): wrappers that sit between a transport and a
 * protocol, see everything that passes, and act on it — count connections, throttle bandwidth, time out idle
 * connections, log traffic.
 *
 * A WrappingFactory builds, for each connection, the wrapped factory's protocol and a ProtocolWrapper around it.
 * The real transport talks to the wrapper; the wrapper is the inner protocol's transport. So the inner protocol
 * runs unchanged, and the wrapper sees every byte in (`dataReceived`) and out (`write`).
 *
 * Where this differs from Twisted (each said again where it happens):
 * - `WrappingFactory.buildProtocol` returns null when the wrapped factory does (Twisted wraps None and fails later).
 * - The wrapper class is `WrappingFactory.wrapperProtocol` (Twisted's `protocol`), because `Factory.protocol` is typed
 *   as a no-argument protocol class here.
 * - ProtocolWrapper forwards half-close (`readConnectionLost`/`writeConnectionLost`) to a half-closeable inner
 *   protocol; Twisted's wrapper hides it. For other inner protocols the peer's FIN closes the connection, which is
 *   what the transport itself would have done.
 * - Clocks are injectable (`clock` option) instead of overriding `callLater` in a test subclass; `callLater` still
 *   exists and may still be overridden.
 * - TrafficLoggingFactory records to a TrafficLogSink instead of opening files; TrafficLogFileSink writes Twisted's
 *   per-connection text files.
 */
import * as fs from "node:fs";
import type { Address } from "../address.ts";
import { reactorTime } from "../base.ts";
import { checkBytes } from "../bytes.ts";
import {
  isHalfCloseable,
  type Bytes,
  type IConnector,
  type IDelayedCall,
  type IProtocol,
  type IProtocolFactory,
  type IPullProducer,
  type IPushProducer,
  type IReactorTime,
  type ITransport,
} from "../interfaces.ts";
import { ClientFactory, Protocol, ServerFactory, type Factory, type ProtocolClass } from "../protocol.ts";

/** Twisted's `_wrappedLogPrefix`: "Inner (Wrapper)", using the inner object's own `logPrefix()` if it has one. */
function wrappedLogPrefix(wrapper: object, wrapped: object | null): string {
  const inner = wrapped as { logPrefix?: unknown } | null;
  const prefix =
    inner !== null && typeof inner.logPrefix === "function"
      ? String((inner.logPrefix as () => unknown).call(inner))
      : (wrapped?.constructor.name ?? "null");
  return `${prefix} (${wrapper.constructor.name})`;
}

/** Cancels a timed call if it is still pending; a call that already ran or was cancelled is left alone. */
function cancelIfActive(call: IDelayedCall | null): void {
  if (call !== null && call.active()) call.cancel();
}

/**
 * What a ProtocolWrapper reports to: its factory, told when a wrapper connects and when it goes away.
 * WrappingFactory keeps a registry; LimitTotalConnectionsFactory only counts.
 */
export interface ProtocolRegistry {
  /** Called by a wrapper in `makeConnection`, before the inner protocol's `makeConnection`. */
  registerProtocol(p: ProtocolWrapper): void;
  /** Called by a wrapper in `connectionLost`, before the inner protocol's `connectionLost`. */
  unregisterProtocol(p: ProtocolWrapper): void;
}

/**
 * Wraps a protocol and acts as its transport (twisted.protocols.policies.ProtocolWrapper).
 *
 * Every transport call of the inner protocol (write, writeSequence, loseConnection, abortConnection,
 * loseWriteConnection, getPeer, getHost, producers, TCP options) goes to this wrapper, which forwards it to the real
 * transport; every event of the real transport goes to the wrapper, which forwards it to the inner protocol.
 * Subclasses override the forwarding methods to watch or change the traffic, calling `super` to pass it on.
 *
 * Guarantees: the wrapper registers with its factory before the inner protocol's `makeConnection` (so the
 * inner `connectionMade` already counts), unregisters before the inner `connectionLost`, and drops
 * `wrappedProtocol` (sets it to null) after it, so wrapper and inner protocol don't keep each other alive.
 * A second `connectionLost` is ignored.
 */
export class ProtocolWrapper extends Protocol implements ITransport {
  /** The factory that built this wrapper; told about register/unregister. */
  declare factory: Factory & ProtocolRegistry;
  /** The protocol this wrapper stands in front of; null once the connection is lost. */
  wrappedProtocol: IProtocol | null;
  #disconnecting = false;

  constructor(factory: Factory & ProtocolRegistry, wrappedProtocol: IProtocol) {
    super();
    this.factory = factory;
    this.wrappedProtocol = wrappedProtocol;
  }

  /** "Inner (Wrapper)": both class names, or the inner protocol's own `logPrefix()`. */
  logPrefix(): string {
    return wrappedLogPrefix(this, this.wrappedProtocol);
  }

  /**
   * Called by the real transport: saves it, runs this wrapper's `connectionMade`, registers with the factory,
   * then connects the inner protocol to this wrapper.
   */
  override makeConnection(transport: ITransport): void {
    super.makeConnection(transport);
    this.factory.registerProtocol(this);
    this.wrappedProtocol?.makeConnection(this);
  }

  // Transport relaying: the inner protocol calls these on its "transport".

  /**
   * True once `loseConnection()`/`abortConnection()` was called through this wrapper, or once the real transport
   * is disconnecting (Twisted reads only its own flag; the real transport's is included so an inner protocol also
   * stops when something else closes the connection).
   */
  get disconnecting(): boolean {
    return this.#disconnecting || (this.transport !== undefined && this.transport.disconnecting);
  }

  write(data: Bytes): void {
    this.transport.write(data);
  }

  writeSequence(data: readonly Bytes[]): void {
    this.transport.writeSequence(data);
  }

  loseConnection(): void {
    this.#disconnecting = true;
    this.transport.loseConnection();
  }

  abortConnection(): void {
    this.#disconnecting = true;
    this.transport.abortConnection();
  }

  loseWriteConnection(): void {
    this.transport.loseWriteConnection();
  }

  getPeer(): Address {
    return this.transport.getPeer();
  }

  getHost(): Address {
    return this.transport.getHost();
  }

  setTcpNoDelay(enabled: boolean): void {
    this.transport.setTcpNoDelay(enabled);
  }

  getTcpNoDelay(): boolean {
    return this.transport.getTcpNoDelay();
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.transport.setTcpKeepAlive(enabled);
  }

  getTcpKeepAlive(): boolean {
    return this.transport.getTcpKeepAlive();
  }

  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    this.transport.registerProducer(producer, streaming);
  }

  unregisterProducer(): void {
    this.transport.unregisterProducer();
  }

  pauseProducing(): void {
    this.transport.pauseProducing();
  }

  resumeProducing(): void {
    this.transport.resumeProducing();
  }

  stopProducing(): void {
    this.transport.stopProducing();
  }

  // Protocol relaying: the real transport calls these.

  override dataReceived(data: Bytes): void {
    this.wrappedProtocol?.dataReceived(data);
  }

  /**
   * The peer shut its write side. A half-closeable inner protocol gets `readConnectionLost()`; for any other the
   * connection is closed, as the transport does for a protocol that is not half-closeable (it then gets
   * `connectionLost(ConnectionDone)`). Twisted's wrapper is never half-closeable, so there the inner protocol
   * always gets the close.
   */
  readConnectionLost(): void {
    const wrapped = this.wrappedProtocol;
    if (wrapped !== null && isHalfCloseable(wrapped)) wrapped.readConnectionLost();
    else this.transport.loseConnection();
  }

  /** Our write side was shut after `loseWriteConnection()`: tells a half-closeable inner protocol. */
  writeConnectionLost(): void {
    const wrapped = this.wrappedProtocol;
    if (wrapped !== null && isHalfCloseable(wrapped)) wrapped.writeConnectionLost();
  }

  /** Unregisters from the factory, passes the loss on, then drops the inner protocol (Twisted's reference-cycle break). */
  override connectionLost(reason: Error): void {
    const wrapped = this.wrappedProtocol;
    if (wrapped === null) return;
    super.connectionLost(reason);
    this.factory.unregisterProtocol(this);
    try {
      wrapped.connectionLost(reason);
    } finally {
      this.wrappedProtocol = null;
    }
  }
}

/** A wrapper class as WrappingFactory instantiates it: `new W(factory, innerProtocol)`. */
export type ProtocolWrapperClass<F> = new (factory: F, wrappedProtocol: IProtocol) => ProtocolWrapper;

/** The hooks of a client factory, which a wrapped factory may or may not have. */
type ClientHooks = Partial<
  Pick<ClientFactory, "startedConnecting" | "clientConnectionFailed" | "clientConnectionLost">
>;

/**
 * Wraps a factory and its protocols, and keeps track of them (twisted.protocols.policies.WrappingFactory).
 *
 * Listen or connect with the WrappingFactory where you would have used the wrapped factory. `doStart`/`doStop`
 * and the client hooks are passed on to the wrapped factory (the hooks only if it has them), so it behaves as if
 * used directly. `protocols` holds the wrappers whose connection is up.
 */
export class WrappingFactory extends ClientFactory implements ProtocolRegistry {
  /** The wrapper class `buildProtocol` instantiates (Twisted's `protocol` attribute). */
  wrapperProtocol: ProtocolWrapperClass<this> = ProtocolWrapper;
  /** The wrappers currently connected, in connection order. */
  readonly protocols = new Set<ProtocolWrapper>();

  constructor(
    /** The factory whose protocols are wrapped. */
    readonly wrappedFactory: IProtocolFactory,
  ) {
    super();
  }

  /** "Inner (Wrapper)": both class names, or the wrapped factory's own `logPrefix()`. */
  logPrefix(): string {
    return wrappedLogPrefix(this, this.wrappedFactory);
  }

  /** Called by a port/connector: starts the wrapped factory, then this one. */
  override doStart(): void {
    this.wrappedFactory.doStart();
    super.doStart();
  }

  /** Called by a port/connector: stops the wrapped factory, then this one. */
  override doStop(): void {
    this.wrappedFactory.doStop();
    super.doStop();
  }

  override startedConnecting(connector: IConnector): void {
    (this.wrappedFactory as ClientHooks).startedConnecting?.(connector);
  }

  override clientConnectionFailed(connector: IConnector, reason: Error): void {
    (this.wrappedFactory as ClientHooks).clientConnectionFailed?.(connector, reason);
  }

  override clientConnectionLost(connector: IConnector, reason: Error): void {
    (this.wrappedFactory as ClientHooks).clientConnectionLost?.(connector, reason);
  }

  /**
   * Builds the wrapped factory's protocol for `addr` and a `wrapperProtocol` around it. Returns null, refusing the
   * connection, when the wrapped factory returns null.
   */
  override buildProtocol(addr: Address): ProtocolWrapper | null {
    const inner = this.wrappedFactory.buildProtocol(addr);
    if (inner === null) return null;
    return new this.wrapperProtocol(this, inner);
  }

  /** Called by a wrapper when its connection is made. */
  registerProtocol(p: ProtocolWrapper): void {
    this.protocols.add(p);
  }

  /** Called by a wrapper when its connection is lost. */
  unregisterProtocol(p: ProtocolWrapper): void {
    this.protocols.delete(p);
  }
}

/**
 * The wrapper of ThrottlingFactory (twisted.protocols.policies.ThrottlingProtocol): counts the bytes read and
 * written into its factory, and pauses reading (its transport) or writing (the producer registered on it) when the
 * factory says so. Writes are only throttled when a producer is registered.
 */
export class ThrottlingProtocol extends ProtocolWrapper {
  declare factory: ThrottlingFactory;
  /** The producer the inner protocol registered on this transport, paused when writes are throttled. */
  producer: IPushProducer | IPullProducer | null = null;

  constructor(factory: ThrottlingFactory, wrappedProtocol: IProtocol) {
    super(factory, wrappedProtocol);
  }

  override write(data: Bytes): void {
    this.factory.registerWritten(data.byteLength);
    super.write(data);
  }

  override writeSequence(data: readonly Bytes[]): void {
    let length = 0;
    for (const chunk of data) length += chunk.byteLength;
    this.factory.registerWritten(length);
    super.writeSequence(data);
  }

  override dataReceived(data: Bytes): void {
    this.factory.registerRead(data.byteLength);
    super.dataReceived(data);
  }

  override registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    super.registerProducer(producer, streaming);
    this.producer = producer;
  }

  override unregisterProducer(): void {
    this.producer = null;
    super.unregisterProducer();
  }

  /** Stops reading from the connection (pauses the real transport). */
  throttleReads(): void {
    this.transport.pauseProducing();
  }

  /** Reads again. */
  unthrottleReads(): void {
    this.transport.resumeProducing();
  }

  /** Pauses the registered producer, if it is a push producer. */
  throttleWrites(): void {
    const producer = this.producer;
    if (producer !== null && "pauseProducing" in producer) producer.pauseProducing();
  }

  /** Resumes the registered producer, if any. */
  unthrottleWrites(): void {
    this.producer?.resumeProducing();
  }
}

/** Options of ThrottlingFactory; every limit is off by default. */
export interface ThrottlingOptions {
  /** Connections beyond this many are refused (`buildProtocol` returns null). Default: no limit. */
  maxConnectionCount?: number;
  /** Bytes per second to read over all connections; null for no limit. */
  readLimit?: number | null;
  /** Bytes per second to write over all connections (only enforced on registered producers); null for no limit. */
  writeLimit?: number | null;
  /** Where the once-a-second checks are scheduled. Default: the reactor's clock; a Clock in tests. */
  clock?: IReactorTime;
}

/**
 * Throttles bandwidth and the number of connections (twisted.protocols.policies.ThrottlingFactory).
 *
 * While it has connections, once a second it compares the bytes read (written) in the last second with
 * `readLimit` (`writeLimit`); over the limit, it pauses reading on (the producers of) all its connections for
 * `bytes / limit - 1` seconds. With no connections left the checks stop; the first new connection restarts them.
 */
export class ThrottlingFactory extends WrappingFactory {
  override wrapperProtocol: ProtocolWrapperClass<this> = ThrottlingProtocol;
  /** Connections built and not yet lost. */
  connectionCount = 0;
  maxConnectionCount: number;
  /** Max bytes read per second, or null. */
  readLimit: number | null;
  /** Max bytes written per second, or null. */
  writeLimit: number | null;
  /** Bytes read since the last check. */
  readThisSecond = 0;
  /** Bytes written since the last check. */
  writtenThisSecond = 0;
  clock: IReactorTime;
  unthrottleReadsID: IDelayedCall | null = null;
  checkReadBandwidthID: IDelayedCall | null = null;
  unthrottleWritesID: IDelayedCall | null = null;
  checkWriteBandwidthID: IDelayedCall | null = null;

  constructor(wrappedFactory: IProtocolFactory, options: ThrottlingOptions = {}) {
    super(wrappedFactory);
    this.maxConnectionCount = options.maxConnectionCount ?? Infinity;
    this.readLimit = options.readLimit ?? null;
    this.writeLimit = options.writeLimit ?? null;
    this.clock = options.clock ?? reactorTime;
  }

  /** Schedules `fn` on `clock`; override to schedule elsewhere. */
  callLater(period: number, fn: () => void): IDelayedCall {
    return this.clock.callLater(period, fn);
  }

  /** Called by a protocol after writing `length` bytes. */
  registerWritten(length: number): void {
    this.writtenThisSecond += length;
  }

  /** Called by a protocol after reading `length` bytes. */
  registerRead(length: number): void {
    this.readThisSecond += length;
  }

  /** Runs once a second while reads are limited: throttles reads if the last second went over `readLimit`. */
  checkReadBandwidth(): void {
    const limit = this.readLimit;
    if (limit === null) return;
    if (this.readThisSecond > limit) {
      this.throttleReads();
      const throttleTime = this.readThisSecond / limit - 1.0;
      this.unthrottleReadsID = this.callLater(throttleTime, () => this.unthrottleReads());
    }
    this.readThisSecond = 0;
    this.checkReadBandwidthID = this.callLater(1, () => this.checkReadBandwidth());
  }

  /** Runs once a second while writes are limited: throttles writes if the last second went over `writeLimit`. */
  checkWriteBandwidth(): void {
    const limit = this.writeLimit;
    if (limit === null) return;
    if (this.writtenThisSecond > limit) {
      this.throttleWrites();
      const throttleTime = this.writtenThisSecond / limit - 1.0;
      this.unthrottleWritesID = this.callLater(throttleTime, () => this.unthrottleWrites());
    }
    this.writtenThisSecond = 0;
    this.checkWriteBandwidthID = this.callLater(1, () => this.checkWriteBandwidth());
  }

  /** Pauses reading on every connection. */
  throttleReads(): void {
    this.log.info("Throttling reads on {factory}", { factory: this.logPrefix() });
    for (const p of this.protocols) if (p instanceof ThrottlingProtocol) p.throttleReads();
  }

  /** Resumes reading on every connection. */
  unthrottleReads(): void {
    this.unthrottleReadsID = null;
    this.log.info("Stopped throttling reads on {factory}", { factory: this.logPrefix() });
    for (const p of this.protocols) if (p instanceof ThrottlingProtocol) p.unthrottleReads();
  }

  /** Pauses the producers of every connection. */
  throttleWrites(): void {
    this.log.info("Throttling writes on {factory}", { factory: this.logPrefix() });
    for (const p of this.protocols) if (p instanceof ThrottlingProtocol) p.throttleWrites();
  }

  /** Resumes the producers of every connection. */
  unthrottleWrites(): void {
    this.unthrottleWritesID = null;
    this.log.info("Stopped throttling writes on {factory}", { factory: this.logPrefix() });
    for (const p of this.protocols) if (p instanceof ThrottlingProtocol) p.unthrottleWrites();
  }

  /**
   * Starts the bandwidth checks with the first connection; refuses (returns null) a connection beyond
   * `maxConnectionCount`.
   */
  override buildProtocol(addr: Address): ProtocolWrapper | null {
    if (this.connectionCount === 0) {
      if (this.readLimit !== null) this.checkReadBandwidth();
      if (this.writeLimit !== null) this.checkWriteBandwidth();
    }
    if (this.connectionCount >= this.maxConnectionCount) {
      this.log.info("Max connection count reached!");
      return null;
    }
    const p = super.buildProtocol(addr);
    if (p !== null) this.connectionCount += 1;
    else if (this.connectionCount === 0) this.stopChecks();
    return p;
  }

  /** Called by a wrapper when its connection is lost; the last one stops the bandwidth checks. */
  override unregisterProtocol(p: ProtocolWrapper): void {
    super.unregisterProtocol(p);
    this.connectionCount -= 1;
    if (this.connectionCount === 0) this.stopChecks();
  }

  private stopChecks(): void {
    cancelIfActive(this.unthrottleReadsID);
    cancelIfActive(this.checkReadBandwidthID);
    cancelIfActive(this.unthrottleWritesID);
    cancelIfActive(this.checkWriteBandwidthID);
  }
}

/** A wrapper that logs every chunk in and out through its `log` (twisted.protocols.policies.SpewingProtocol). */
export class SpewingProtocol extends ProtocolWrapper {
  override dataReceived(data: Bytes): void {
    this.log.info("Received: {data}", { data });
    super.dataReceived(data);
  }

  override write(data: Bytes): void {
    this.log.info("Sending: {data}", { data });
    super.write(data);
  }
}

/** Wraps every connection in a SpewingProtocol (twisted.protocols.policies.SpewingFactory). */
export class SpewingFactory extends WrappingFactory {
  override wrapperProtocol: ProtocolWrapperClass<this> = SpewingProtocol;
}

/** The host part of an address, the key LimitConnectionsByPeer counts by. */
function peerHost(addr: Address): string {
  if ("host" in addr) return addr.host;
  if ("name" in addr) return addr.name ?? "";
  return String(addr);
}

/**
 * Refuses a connection when its peer host already has `maxConnectionsPerPeer` (twisted.protocols.policies.
 * LimitConnectionsByPeer). Twisted's version reads the host with mismatched indexes and never cleans its registry;
 * this one counts by `addr.host` and unregisters properly.
 */
export class LimitConnectionsByPeer extends WrappingFactory {
  maxConnectionsPerPeer = 5;
  /** Open connections per peer host. */
  peerConnections = new Map<string, number>();

  override startFactory(): void {
    this.peerConnections = new Map();
  }

  override buildProtocol(addr: Address): ProtocolWrapper | null {
    const host = peerHost(addr);
    const count = this.peerConnections.get(host) ?? 0;
    if (count >= this.maxConnectionsPerPeer) return null;
    const p = super.buildProtocol(addr);
    if (p !== null) this.peerConnections.set(host, count + 1);
    return p;
  }

  override unregisterProtocol(p: ProtocolWrapper): void {
    super.unregisterProtocol(p);
    const host = peerHost(p.getPeer());
    const count = (this.peerConnections.get(host) ?? 1) - 1;
    if (count <= 0) this.peerConnections.delete(host);
    else this.peerConnections.set(host, count);
  }
}

/**
 * Limits the number of simultaneous connections (twisted.protocols.policies.LimitTotalConnectionsFactory). Set
 * `protocol` as on any factory. Beyond `connectionLimit`, a connection gets `overflowProtocol` if set (it counts
 * too), else is refused.
 */
export class LimitTotalConnectionsFactory extends ServerFactory implements ProtocolRegistry {
  /** Connections built and not yet lost. */
  connectionCount = 0;
  /** Maximum number of connections; null for none. */
  connectionLimit: number | null = null;
  /** Protocol for connections beyond the limit; null refuses them. */
  overflowProtocol: ProtocolClass | null = null;

  override buildProtocol(_addr: Address): ProtocolWrapper | null {
    let cls: ProtocolClass | null;
    if (this.connectionLimit === null || this.connectionCount < this.connectionLimit) cls = this.protocol;
    else if (this.overflowProtocol === null) return null;
    else cls = this.overflowProtocol;
    if (cls === null) throw new TypeError(`${this.constructor.name}.protocol is not set`);
    const wrapped = new cls();
    (wrapped as { factory?: unknown }).factory = this;
    const p = new ProtocolWrapper(this, wrapped);
    this.connectionCount += 1;
    return p;
  }

  registerProtocol(_p: ProtocolWrapper): void {}

  unregisterProtocol(_p: ProtocolWrapper): void {
    this.connectionCount -= 1;
  }
}

/**
 * A wrapper that closes the connection after `timeoutPeriod` seconds without traffic either way
 * (twisted.protocols.policies.TimeoutProtocol). The countdown starts when the wrapper is built; every read, write
 * or writeSequence restarts it. On expiry `timeoutFunc()` runs: `loseConnection()` unless overridden.
 */
export class TimeoutProtocol extends ProtocolWrapper {
  declare factory: TimeoutFactory;
  /** The pending timeout, or null. */
  timeoutCall: IDelayedCall | null = null;
  /** Seconds of silence allowed, or null when no timeout is set. */
  timeoutPeriod: number | null = null;

  constructor(
    factory: TimeoutFactory,
    wrappedProtocol: IProtocol,
    timeoutPeriod: number | null = factory.timeoutPeriod,
  ) {
    super(factory, wrappedProtocol);
    this.setTimeout(timeoutPeriod);
  }

  /** Cancels any timeout, then starts a new one of `timeoutPeriod` seconds (none if null). */
  setTimeout(timeoutPeriod: number | null = null): void {
    this.cancelTimeout();
    this.timeoutPeriod = timeoutPeriod;
    if (timeoutPeriod !== null) {
      this.timeoutCall = this.factory.callLater(timeoutPeriod, () => this.timeoutFunc());
    }
  }

  /** Cancels the timeout; does nothing if there is none or it already ran or was cancelled elsewhere. */
  cancelTimeout(): void {
    this.timeoutPeriod = null;
    cancelIfActive(this.timeoutCall);
    this.timeoutCall = null;
  }

  /** Restarts the countdown, because something just happened. Does nothing once the timeout ran. */
  resetTimeout(): void {
    if (this.timeoutCall !== null && this.timeoutCall.active() && this.timeoutPeriod !== null) {
      this.timeoutCall.reset(this.timeoutPeriod);
    }
  }

  override write(data: Bytes): void {
    this.resetTimeout();
    super.write(data);
  }

  override writeSequence(data: readonly Bytes[]): void {
    this.resetTimeout();
    super.writeSequence(data);
  }

  override dataReceived(data: Bytes): void {
    this.resetTimeout();
    super.dataReceived(data);
  }

  override connectionLost(reason: Error): void {
    this.cancelTimeout();
    super.connectionLost(reason);
  }

  /** Called when the timeout expires. Default: `loseConnection()`. Override for something else. */
  timeoutFunc(): void {
    this.loseConnection();
  }
}

/** Options of TimeoutFactory. */
export interface TimeoutOptions {
  /** Seconds of silence before a connection is closed; null for none. Default 30 minutes, as in Twisted. */
  timeoutPeriod?: number | null;
  /** Where timeouts are scheduled. Default: the reactor's clock; a Clock in tests. */
  clock?: IReactorTime;
}

/** Wraps every connection in a TimeoutProtocol (twisted.protocols.policies.TimeoutFactory). */
export class TimeoutFactory extends WrappingFactory {
  override wrapperProtocol: ProtocolWrapperClass<this> = TimeoutProtocol;
  /** The period each new connection gets. */
  timeoutPeriod: number | null;
  clock: IReactorTime;

  constructor(wrappedFactory: IProtocolFactory, options: TimeoutOptions = {}) {
    super(wrappedFactory);
    this.timeoutPeriod = options.timeoutPeriod === undefined ? 30 * 60 : options.timeoutPeriod;
    this.clock = options.clock ?? reactorTime;
  }

  /** Schedules `fn` on `clock`; override to schedule elsewhere. */
  callLater(period: number, fn: () => void): IDelayedCall {
    return this.clock.callLater(period, fn);
  }
}

/**
 * One thing a TrafficLoggingProtocol saw. `data` is the caller's own buffer, not a copy: a sink that keeps it past
 * `record()` must not modify it, and should copy it if the writer may reuse its buffer.
 */
export type TrafficLogEntry =
  | { kind: "connectionMade" | "loseConnection" | "abortConnection"; connectionNumber: number }
  | { kind: "data" | "write"; connectionNumber: number; data: Bytes }
  /** `data` is the pieces joined (the pieces themselves when there is one), `sequence` the pieces as written. */
  | { kind: "writeSequence"; connectionNumber: number; data: Bytes; sequence: readonly Bytes[] }
  | { kind: "connectionLost"; connectionNumber: number; reason: Error };

/** Where a TrafficLoggingFactory sends what it sees. `record` is called synchronously on the connection's path. */
export interface TrafficLogSink {
  /** Called for every event of every connection of the factory, in order. Must be fast and must not throw. */
  record(entry: TrafficLogEntry): void;
}

/**
 * A wrapper that records everything passing through it to a sink (twisted.protocols.policies.
 * TrafficLoggingProtocol): the connection, each chunk received (`data`), each write (`write`, `writeSequence`),
 * `loseConnection`, `abortConnection`, and the loss with its reason. An entry is recorded before the call is
 * passed on, so entries are in the order things happened even when the call re-enters.
 */
export class TrafficLoggingProtocol extends ProtocolWrapper {
  constructor(
    factory: Factory & ProtocolRegistry,
    wrappedProtocol: IProtocol,
    /** Where entries go. */
    readonly sink: TrafficLogSink,
    /** The factory's number for this connection, from 1. */
    readonly connectionNumber: number,
  ) {
    super(factory, wrappedProtocol);
  }

  override connectionMade(): void {
    this.sink.record({ kind: "connectionMade", connectionNumber: this.connectionNumber });
  }

  override dataReceived(data: Bytes): void {
    this.sink.record({ kind: "data", connectionNumber: this.connectionNumber, data });
    super.dataReceived(data);
  }

  override connectionLost(reason: Error): void {
    if (this.wrappedProtocol === null) return;
    this.sink.record({ kind: "connectionLost", connectionNumber: this.connectionNumber, reason });
    super.connectionLost(reason);
  }

  override write(data: Bytes): void {
    checkBytes(data);
    this.sink.record({ kind: "write", connectionNumber: this.connectionNumber, data });
    super.write(data);
  }

  override writeSequence(sequence: readonly Bytes[]): void {
    for (const chunk of sequence) checkBytes(chunk);
    const data = sequence.length === 1 ? sequence[0]! : Buffer.concat(sequence);
    this.sink.record({ kind: "writeSequence", connectionNumber: this.connectionNumber, data, sequence });
    super.writeSequence(sequence);
  }

  override loseConnection(): void {
    this.sink.record({ kind: "loseConnection", connectionNumber: this.connectionNumber });
    super.loseConnection();
  }

  override abortConnection(): void {
    this.sink.record({ kind: "abortConnection", connectionNumber: this.connectionNumber });
    super.abortConnection();
  }
}

/**
 * Records the traffic of every connection to one sink (twisted.protocols.policies.TrafficLoggingFactory). Connections
 * are numbered from 1 in the order they are built; `resetCounter()` starts again from 1.
 *
 *     const sink = new TrafficLogFileSink("log");  // Twisted's TrafficLoggingFactory(f, "log"): files log-1, log-2...
 *     reactor.listenTCP(8000, new TrafficLoggingFactory(f, sink));
 */
export class TrafficLoggingFactory extends WrappingFactory {
  /** The number given to the last connection built (Twisted's `_counter`). */
  counter = 0;

  constructor(
    wrappedFactory: IProtocolFactory,
    /** Receives the entries of every connection. */
    readonly sink: TrafficLogSink,
  ) {
    super(wrappedFactory);
  }

  /** Builds a TrafficLoggingProtocol with the next connection number; null if the wrapped factory refuses. */
  override buildProtocol(addr: Address): TrafficLoggingProtocol | null {
    const inner = this.wrappedFactory.buildProtocol(addr);
    if (inner === null) return null;
    this.counter += 1;
    return new TrafficLoggingProtocol(this, inner, this.sink, this.counter);
  }

  /** Numbers the next connection 1 again. */
  resetCounter(): void {
    this.counter = 0;
  }
}

/** Python's `repr()` of a bytes object (`b'ab\r\n'`), as Twisted's traffic log writes data. */
export function bytesRepr(data: Bytes): string {
  const quote = data.includes(0x27) && !data.includes(0x22) ? 0x22 : 0x27;
  let out = quote === 0x22 ? 'b"' : "b'";
  for (const b of data) {
    if (b === 0x5c) out += "\\\\";
    else if (b === quote) out += quote === 0x22 ? '\\"' : "\\'";
    else if (b === 0x09) out += "\\t";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(b);
  }
  return out + (quote === 0x22 ? '"' : "'");
}

const ELIDED = Buffer.from("<... elided>");

/** Twisted's `_mungeData`: data longer than `lengthLimit` is cut to fit, ending in "<... elided>". */
function munge(data: Bytes, lengthLimit: number | null): Bytes {
  if (!lengthLimit || data.byteLength <= lengthLimit) return data;
  return Buffer.concat([data.subarray(0, Math.max(0, lengthLimit - ELIDED.length)), ELIDED]);
}

/**
 * One line of Twisted's traffic log for `entry` (without the newline): `*` on connect, `C n: b'...'` for data
 * received, `S n: b'...'` for a write, `SV n: [b'...', ...]` for writeSequence, `S n: *` for loseConnection,
 * `C n: <Failure ...>` for the loss. `S n: !` for abortConnection is Wirescope's (Twisted doesn't log aborts).
 */
export function formatTrafficLogLine(entry: TrafficLogEntry, lengthLimit: number | null = null): string {
  const n = entry.connectionNumber;
  switch (entry.kind) {
    case "connectionMade":
      return "*";
    case "data":
      return `C ${n}: ${bytesRepr(munge(entry.data, lengthLimit))}`;
    case "write":
      return `S ${n}: ${bytesRepr(munge(entry.data, lengthLimit))}`;
    case "writeSequence":
      return `SV ${n}: [${entry.sequence.map((d) => bytesRepr(munge(d, lengthLimit))).join(", ")}]`;
    case "loseConnection":
      return `S ${n}: *`;
    case "abortConnection":
      return `S ${n}: !`;
    case "connectionLost":
      return `C ${n}: <Failure ${entry.reason.name}: ${entry.reason.message}>`;
  }
}

/** The part of a writable stream TrafficLogFileSink uses; a node:fs WriteStream is one. */
export interface TrafficLogStream {
  write(text: string): unknown;
  end(callback?: () => void): unknown;
}

/** Options of TrafficLogFileSink. */
export interface TrafficLogFileOptions {
  /** Data longer than this is cut and marked "<... elided>" (Twisted's `lengthLimit`). Default: no limit. */
  lengthLimit?: number | null;
  /** Opens the stream for a connection's file. Default: `fs.createWriteStream(path)` (truncating, like "w"). */
  open?: (path: string) => TrafficLogStream;
}

/**
 * A sink that writes Twisted's traffic log text, one file per connection named `${prefix}-${n}`, as Twisted's
 * `TrafficLoggingFactory(f, prefix)` does. A connection's file is opened at its first entry and closed after its
 * `connectionLost` line. Call `close()` to close the files still open and wait until everything is on disk.
 */
export class TrafficLogFileSink implements TrafficLogSink {
  readonly lengthLimit: number | null;
  readonly #open: (path: string) => TrafficLogStream;
  readonly #files = new Map<number, TrafficLogStream>();
  readonly #closing = new Set<Promise<void>>();

  constructor(
    /** Path prefix of the files: `${prefix}-1`, `${prefix}-2`, ... */
    readonly prefix: string,
    options: TrafficLogFileOptions = {},
  ) {
    this.lengthLimit = options.lengthLimit ?? null;
    this.#open = options.open ?? ((path) => fs.createWriteStream(path));
  }

  record(entry: TrafficLogEntry): void {
    const n = entry.connectionNumber;
    let file = this.#files.get(n);
    if (file === undefined) {
      file = this.#open(`${this.prefix}-${n}`);
      this.#files.set(n, file);
    }
    file.write(`${formatTrafficLogLine(entry, this.lengthLimit)}\n`);
    if (entry.kind === "connectionLost") {
      this.#files.delete(n);
      this.#end(file);
    }
  }

  #end(file: TrafficLogStream): void {
    const done = new Promise<void>((resolve) => file.end(resolve));
    this.#closing.add(done);
    void done.then(() => this.#closing.delete(done));
  }

  /** Closes every file still open; resolves once all files, including those closed earlier, are flushed. */
  async close(): Promise<void> {
    for (const file of this.#files.values()) this.#end(file);
    this.#files.clear();
    await Promise.all(this.#closing);
  }
}

/** What timeoutMixin needs of its base class: a transport to close. */
export interface TimeoutHost {
  transport: ITransport;
}

/** What timeoutMixin adds (twisted.protocols.policies.TimeoutMixin). */
export interface TimeoutMixinMembers {
  /** The timeout period in seconds, or null for none. Set a default as a class field (`override timeOut = 30`). */
  timeOut: number | null;
  /** Where the timeout is scheduled. Default: the reactor's clock; set a Clock in tests. */
  clock: IReactorTime;
  /** Schedules `fn` on `clock`; override to schedule elsewhere. */
  callLater(period: number, fn: () => void): IDelayedCall;
  /**
   * Restarts the countdown: call it when the peer shows it is alive. Does nothing when no timeout is pending
   * (none set, cancelled with `setTimeout(null)`, or already expired).
   */
  resetTimeout(): void;
  /**
   * Sets the timeout to `period` seconds from now (null cancels it) and returns the previous `timeOut`.
   * Safe to call when the pending call already ran or was cancelled elsewhere.
   */
  setTimeout(period: number | null): number | null;
  /** Called when the timeout expires. Default: `transport.loseConnection()`, as in Twisted. */
  timeoutConnection(): void;
}

type AbstractConstructor<T = object> = abstract new (...args: never[]) => T;

/** The class timeoutMixin returns: Base's constructor and statics, instances with the timeout members. */
export type WithTimeout<TBase extends AbstractConstructor<TimeoutHost>> = (TBase extends new (
  ...args: never[]
) => unknown
  ? new (...args: ConstructorParameters<TBase>) => InstanceType<TBase> & TimeoutMixinMembers
  : abstract new (...args: ConstructorParameters<TBase>) => InstanceType<TBase> & TimeoutMixinMembers) &
  Omit<TBase, "prototype">;

/**
 * Adds a single idle timeout to a protocol class (twisted.protocols.policies.TimeoutMixin):
 *
 *     class Session extends timeoutMixin(LineReceiver) {
 *       override timeOut = 60;
 *       override connectionMade() { this.setTimeout(this.timeOut); }
 *       override lineReceived(line: Bytes) { this.resetTimeout(); ... }
 *       override connectionLost(reason: Error) { this.setTimeout(null); super.connectionLost(reason); }
 *     }
 *
 * Nothing is armed until `setTimeout` is called, and nothing is cancelled automatically on connection loss: as in
 * Twisted, call `setTimeout(null)` in `connectionLost`. Written as a function because TypeScript has no mixins;
 * the returned class keeps Base's constructor.
 */
export function timeoutMixin<TBase extends AbstractConstructor<TimeoutHost>>(Base: TBase): WithTimeout<TBase> {
  // Seen as a plain constructor so TypeScript accepts it as a base without its `any[]` mixin signature; the
  // implicit constructor passes every argument on to Base at run time.
  const PlainBase = Base as unknown as abstract new () => TimeoutHost;

  abstract class TimeoutMixin extends PlainBase implements TimeoutMixinMembers {
    timeOut: number | null = null;
    clock: IReactorTime = reactorTime;
    #timeoutCall: IDelayedCall | null = null;

    callLater(period: number, fn: () => void): IDelayedCall {
      return this.clock.callLater(period, fn);
    }

    resetTimeout(): void {
      const call = this.#timeoutCall;
      if (call !== null && call.active() && this.timeOut !== null) call.reset(this.timeOut);
    }

    setTimeout(period: number | null): number | null {
      const prev = this.timeOut;
      this.timeOut = period;
      const call = this.#timeoutCall;
      if (call !== null && call.active()) {
        if (period === null) {
          call.cancel();
          this.#timeoutCall = null;
        } else {
          call.reset(period);
        }
      } else {
        this.#timeoutCall = period === null ? null : this.callLater(period, () => this.#timedOut());
      }
      return prev;
    }

    #timedOut(): void {
      this.#timeoutCall = null;
      this.timeoutConnection();
    }

    timeoutConnection(): void {
      this.transport.loseConnection();
    }
  }

  return TimeoutMixin as unknown as WithTimeout<TBase>;
}
