/**
 * The interfaces of Twisted's networking model (src/twisted/internet/interfaces.py), as TypeScript types.
 *
 * Implementations live beside them: tcp.ts (sockets), testing.ts (in-memory), process.ts (children).
 * User code is written against these, so a protocol runs the same over a real socket, a StringTransport
 * or the app's sandbox bridge.
 */
import type { ConnectionOptions, PeerCertificate, TlsOptions } from "node:tls";
import type { Address } from "./address.ts";

/** Bytes, as everywhere in the core. A Node Buffer is a Uint8Array. */
export type Bytes = Uint8Array;

/** Something that produces data for a consumer (IProducer). */
export interface IProducer {
  /** Stop producing for good; called when the consumer goes away. */
  stopProducing(): void;
}

/** A push producer: produces on its own until paused (IPushProducer, "streaming"). */
export interface IPushProducer extends IProducer {
  /** The consumer's buffer is full: stop producing until resumed. */
  pauseProducing(): void;
  /** The consumer drained its buffer: produce again. */
  resumeProducing(): void;
}

/** A pull producer: produces one chunk each time it is asked (IPullProducer, non-streaming). */
export interface IPullProducer extends IProducer {
  /** Produce (write) one chunk now. */
  resumeProducing(): void;
}

/** Accepts data and producers (IConsumer). */
export interface IConsumer {
  /**
   * Attach a producer. `streaming` true means a push producer (paused when the buffer fills, resumed on drain),
   * false a pull producer (resumed once now and on each drain). Throws if a producer is already registered.
   */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void;
  /** Detach the current producer. */
  unregisterProducer(): void;
  /** Queue bytes for writing. */
  write(data: Bytes): void;
}

/** A connection's transport, as a protocol sees it (ITransport + ITCPTransport + IPushProducer). */
export interface ITransport extends IConsumer, IPushProducer {
  /** True from `loseConnection()` on: no more data is delivered, pending writes are flushed, then the close. */
  readonly disconnecting: boolean;
  /** Queue a sequence of byte strings for writing, in order. */
  writeSequence(data: readonly Bytes[]): void;
  /** Flush what is buffered, then close cleanly. The protocol gets `connectionLost(ConnectionDone)`. */
  loseConnection(): void;
  /** Close at once, discarding what is buffered. The protocol gets `connectionLost(ConnectionAborted)` later. */
  abortConnection(): void;
  /** Flush, then shut the write side only (half-close). */
  loseWriteConnection(): void;
  /** The remote address. */
  getPeer(): Address;
  /** The local address. */
  getHost(): Address;
  /** Nagle's algorithm off (true) or on (false). */
  setTcpNoDelay(enabled: boolean): void;
  getTcpNoDelay(): boolean;
  /** TCP keep-alive on or off. */
  setTcpKeepAlive(enabled: boolean): void;
  getTcpKeepAlive(): boolean;
}

/** A protocol: receives data and lifecycle callbacks from a transport (IProtocol). */
export interface IProtocol {
  /** Called by the transport once connected: sets `transport`, `connected`, then calls `connectionMade()`. */
  makeConnection(transport: ITransport): void;
  /** Some bytes arrived; any split of the stream. */
  dataReceived(data: Bytes): void;
  /** The connection is gone, exactly once, with the reason. */
  connectionLost(reason: Error): void;
}

/** A protocol that wants to know about half-closes (IHalfCloseableProtocol). */
export interface IHalfCloseableProtocol extends IProtocol {
  /** The peer closed its write side (FIN); we may still write. */
  readConnectionLost(): void;
  /** Our write side was shut by `loseWriteConnection()` after flushing. */
  writeConnectionLost(): void;
}

/** Whether a protocol implements the half-close hooks. */
export function isHalfCloseable(p: IProtocol): p is IHalfCloseableProtocol {
  const hc = p as Partial<IHalfCloseableProtocol>;
  return typeof hc.readConnectionLost === "function" && typeof hc.writeConnectionLost === "function";
}

/** Makes protocols for connections (IProtocolFactory). */
export interface IProtocolFactory {
  /** Build a protocol for a connection to or from `addr`; null refuses it (a server then closes the socket). */
  buildProtocol(addr: Address): IProtocol | null;
  /** Called by each port/connector that starts using this factory. */
  doStart(): void;
  /** Called by each port/connector that stops using this factory. */
  doStop(): void;
}

/** A pending timed call (IDelayedCall). */
export interface IDelayedCall {
  /** The reactor time (seconds) at which it will run. */
  getTime(): number;
  /** Cancel it. Throws AlreadyCalled / AlreadyCancelled. */
  cancel(): void;
  /** Run it `secondsFromNow` seconds from now instead. */
  reset(secondsFromNow: number): void;
  /** Push it `secondsLater` seconds further. */
  delay(secondsLater: number): void;
  /** Not yet run nor cancelled. */
  active(): boolean;
}

/** Time and scheduling (IReactorTime). */
export interface IReactorTime {
  /** The current time in seconds (monotonic for the real reactor). */
  seconds(): number;
  /** Run `fn(...args)` in `delay` seconds. */
  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): IDelayedCall;
  /** The calls still pending. */
  getDelayedCalls(): IDelayedCall[];
}

/** A client connection attempt that can be repeated (IConnector). */
export interface IConnector {
  /** Start connecting. Throws unless disconnected. */
  connect(): void;
  /** Stop an attempt in progress: `clientConnectionFailed(UserError)`. Throws NotConnectingError otherwise. */
  stopConnecting(): void;
  /** Stop connecting or close the connection, whichever applies. */
  disconnect(): void;
  /** The address being connected to. */
  getDestination(): Address;
  /** "disconnected" | "connecting" | "connected". */
  readonly state: "disconnected" | "connecting" | "connected";
}

/** A listening port (IListeningPort). */
export interface IListeningPort {
  /** Resolves once bound (Node binds asynchronously); rejects with CannotListenError. */
  readonly listening: Promise<void>;
  /** Start listening (done by the reactor already). */
  startListening(): void;
  /** Stop accepting; resolves after the factory's doStop. Open connections are left alone. */
  stopListening(): Promise<void>;
  /** The bound address (after `listening` resolved). */
  getHost(): Address;
}

/** Options of `connectTCP`. */
export interface ConnectTCPOptions {
  /** Seconds before the attempt fails with TimeoutError. Default 30. */
  timeout?: number;
  /** Local [host, port] to bind before connecting. */
  bindAddress?: readonly [string, number] | null;
}

/** Options of `listenTCP`. */
export interface ListenTCPOptions {
  /** Interface to bind; "" (the default) means all IPv4 interfaces, as in Twisted. */
  interface?: string;
  /** Listen backlog. Default 50. */
  backlog?: number;
}

/** TLS settings of a client connection: node:tls's options (ca, cert, key, servername, rejectUnauthorized...). */
export type ClientTLSOptions = ConnectionOptions;

/** TLS settings of a listening port: node:tls's server options (key and cert at least). */
export type ServerTLSOptions = TlsOptions;

/** TLS settings of `startTLS`: a client's on a connection we opened, a server's on an accepted one. */
export type TLSOptions = ClientTLSOptions | ServerTLSOptions;

/** What a completed TLS handshake agreed on, as `getTLSInfo()` and `handshakeCompleted()` give it. */
export interface TLSInfo {
  /** The TLS version, as OpenSSL names it: "TLSv1.3", "TLSv1.2". */
  readonly version: string;
  /** The cipher suite, as OpenSSL names it ("TLS_AES_256_GCM_SHA384"). */
  readonly cipher: string;
  /** The ALPN protocol both sides chose, or null when none was negotiated. */
  readonly alpnProtocol: string | null;
  /** The SNI name: the one a client sent (`servername`), as either side saw it; null when none was sent. */
  readonly servername: string | null;
}

/**
 * A transport that is or can become TLS (Twisted's ITLSTransport and ISSLTransport): the core's TCP Connection.
 * The in-memory transports of testing.ts and UNIX connections are not TLS transports.
 */
export interface ITLSTransport extends ITransport {
  /**
   * Starts TLS over this connected transport (Twisted's `startTLS(ctx, normal=True)`): a connection we opened
   * becomes the TLS client, an accepted one the TLS server; `options` are node:tls's for that side. Bytes
   * written before the call go out in clear; bytes written after it are encrypted (held until the handshake
   * allows). Throws when TLS is already on, or the transport is closing, closed or not TCP. Without `options`, a
   * client verifies the server against the system's CAs; a server needs at least `key` and `cert` (in Wirescope's
   * sandbox, a connection's transport supplies a certificate itself, so `startTLS()` alone upgrades it).
   */
  startTLS(options?: TLSOptions): void;
  /**
   * The peer's certificate once the handshake completed (ISSLTransport.getPeerCertificate), as node:tls
   * describes it (Twisted returns OpenSSL's X509 object); null before, without TLS, or when the peer sent none.
   */
  getPeerCertificate(): PeerCertificate | null;
  /** What the handshake agreed on, once it completed; null before, and without TLS. */
  getTLSInfo(): TLSInfo | null;
}

/** Whether a transport can do TLS (`startTLS`, `getPeerCertificate`, `getTLSInfo`). */
export function isTLSTransport(t: ITransport): t is ITLSTransport {
  return typeof (t as Partial<ITLSTransport>).startTLS === "function";
}

/**
 * A protocol that wants to know when a TLS handshake completed (Twisted's IHandshakeListener): after
 * `startTLS`, and on connectSSL / listenSSL connections (whose handshake is over before `connectionMade`, so
 * it is called right after it). Called at most once per connection, never after `connectionLost`.
 */
export interface IHandshakeListener {
  handshakeCompleted(info: TLSInfo): void;
}

/** Whether a protocol implements `handshakeCompleted`. */
export function isHandshakeListener(p: IProtocol): p is IProtocol & IHandshakeListener {
  return typeof (p as Partial<IHandshakeListener>).handshakeCompleted === "function";
}

/** Options of `listenUNIX`. */
export interface ListenUNIXOptions {
  /** File mode of the socket, e.g. 0o666. */
  mode?: number;
  backlog?: number;
}

/**
 * What the reactor offers for stream connections (IReactorTCP + IReactorSSL + IReactorUNIX).
 * The real reactor (reactor.ts) and MemoryReactor (testing.ts) both implement it; endpoints are written
 * against it.
 */
export interface IReactorNet extends IReactorTime {
  connectTCP(host: string, port: number, factory: IProtocolFactory, options?: ConnectTCPOptions): IConnector;
  listenTCP(port: number, factory: IProtocolFactory, options?: ListenTCPOptions): IListeningPort;
  connectSSL(
    host: string,
    port: number,
    factory: IProtocolFactory,
    tlsOptions: ClientTLSOptions,
    options?: ConnectTCPOptions,
  ): IConnector;
  listenSSL(
    port: number,
    factory: IProtocolFactory,
    tlsOptions: ServerTLSOptions,
    options?: ListenTCPOptions,
  ): IListeningPort;
  connectUNIX(path: string, factory: IProtocolFactory, options?: { timeout?: number }): IConnector;
  listenUNIX(path: string, factory: IProtocolFactory, options?: ListenUNIXOptions): IListeningPort;
}
