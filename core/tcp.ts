/**
 * Stream transports over node:net and node:tls (src/twisted/internet/tcp.py, abstract.py, base.py BaseConnector).
 *
 * Connection is the transport a protocol talks through; Connector is a repeatable client connection attempt;
 * ListeningPort accepts connections and builds a protocol for each. TCP, TLS and UNIX sockets share them: all three
 * are `net.Socket`s in Node. A TCP Connection can also turn TLS in place (`startTLS`, Twisted's ITLSTransport).
 *
 * Where Node differs from Twisted's select loop, the behaviour is kept and the difference is said where it happens:
 * binding is asynchronous (ListeningPort.listening), and `connectionLost` comes from the socket's 'close' event,
 * which Node emits on a later turn, after every 'data' event — so it is never re-entrant.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { BaseTCPTransport, type WriteBuffer } from "./abstract.ts";
import { tcpAddress, UNIXAddress, type Address } from "./address.ts";
import { reactorTime, type DelayedCall } from "./base.ts";
import {
  AlreadyConnectingError,
  CannotListenError,
  CannotStartTLSError,
  ConnectionAborted,
  ConnectionDone,
  fromNodeError,
  NotConnectingError,
  TimeoutError,
  UserError,
} from "./errors.ts";
import {
  isHalfCloseable,
  isHandshakeListener,
  type Bytes,
  type ClientTLSOptions,
  type IConnector,
  type IListeningPort,
  type IProtocol,
  type IProtocolFactory,
  type IReactorTime,
  type ITLSTransport,
  type ServerTLSOptions,
  type TLSInfo,
  type TLSOptions,
} from "./interfaces.ts";
import { Logger } from "./logger.ts";
import type { ClientFactory } from "./protocol.ts";

const log = new Logger("wirescope.core.tcp");

/** Logs an error raised by a protocol callback, with the protocol as source so it shows on its connection. */
function logCallbackError(protocol: IProtocol, callback: string, err: unknown): void {
  new Logger("wirescope.core.tcp", protocol).failure(`Unhandled error in ${callback}`, err, { callback }, "error");
}

/** Whether the protocol registered with a client factory wants the connector's hooks. */
function isClientFactory(f: IProtocolFactory): f is ClientFactory {
  const cf = f as Partial<ClientFactory>;
  return typeof cf.clientConnectionFailed === "function" && typeof cf.clientConnectionLost === "function";
}

/** Socket address of either end, read once while the socket is open (Node forgets it after close). */
function socketAddress(socket: net.Socket, end: "local" | "remote", unixPath: string | null): Address {
  if (unixPath !== null) return new UNIXAddress(end === "local" ? unixPath : null);
  return end === "local"
    ? tcpAddress(socket.localAddress, socket.localPort, socket.localFamily)
    : tcpAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily);
}

/** Which end of a connection we are: we opened it ("client") or accepted it ("server"). */
export type ConnectionSide = "client" | "server";

/** Where TLS stands on a connection: plain TCP, a handshake under way after `startTLS`, or done. */
type TLSState = "none" | "handshaking" | "secure";

/**
 * A connected stream socket as a protocol's transport (twisted.internet.tcp.Connection).
 *
 * Guarantees: `connectionLost` is called exactly once, on a later turn than whatever caused it, after all data
 * that was delivered; with ConnectionDone for a clean close by either side, ConnectionAborted after
 * `abortConnection()`, ConnectionLost for a reset or socket error, or the error a protocol callback threw.
 * Writes after the close (or after `loseConnection()` has flushed) are dropped silently. The producer rules, the
 * addresses and the TCP options' memory are BaseTCPTransport's (abstract.ts); `writeClosed` is set once our write
 * side is shut (loseWriteConnection, an abort, or the close flush began), and `disconnected` once `connectionLost`
 * has been delivered.
 *
 * TLS (ITLSTransport, src/twisted/internet/_newtls.py): a connectSSL / listenSSL connection is TLS from the start;
 * a TCP one turns TLS with `startTLS`. Either way the same rules hold over TLS: `loseConnection()` flushes, then
 * sends TLS's close_notify and the FIN; `abortConnection()` closes at once without close_notify; a TLS failure
 * (handshake, certificate check) is an SSLError as `connectionLost`'s reason. Node difference: the peer's TCP close
 * without close_notify ends the connection with ConnectionDone, as a close_notify does (Node does not tell them
 * apart), where Twisted gives ConnectionLost (test_tls.py test_unexpectedEOF).
 */
export class Connection extends BaseTCPTransport implements ITLSTransport {
  private aborted = false;
  /** The error a protocol callback threw, which becomes the reason of connectionLost. */
  private callbackError: Error | null = null;
  private socketError: Error | null = null;
  /** loseConnection() was called while a producer held the close back. */
  private closeWhenProducerDone = false;
  /** A UNIX socket: Node can reset only TCP sockets, so an abort closes it plainly. */
  private readonly unix: boolean;
  /** The socket carrying the connection: the one given, then the TLS socket `startTLS` put over it. */
  private current: net.Socket;
  private tlsState: TLSState;
  /** The protocol paused reading (`pauseProducing`): a TLS socket put over the connection starts paused too. */
  private readingPaused = false;

  private readonly onData = (chunk: Buffer): void => this.deliver(chunk);
  private readonly onEnd = (): void => this.readConnectionLost();
  private readonly onDrain = (): void => {
    this.bufferDrained();
    this.closeIfProducerAllows();
  };
  private readonly onError = (err: Error): void => {
    this.socketError ??= err;
  };
  private readonly onClose = (): void => this.closed();

  constructor(
    /** The Node socket; owned by this transport from now on. A TLS socket must have completed its handshake. */
    socket: net.Socket,
    readonly protocol: IProtocol,
    /** Which end we are: the TLS side `startTLS` takes follows it. */
    readonly side: ConnectionSide,
    /** Called after the protocol's connectionLost, with the same reason (the connector's or port's bookkeeping). */
    private readonly onLost: (reason: Error) => void,
    unixPath: string | null = null,
  ) {
    super(socketAddress(socket, "local", unixPath), socketAddress(socket, "remote", unixPath));
    this.unix = unixPath !== null;
    this.current = socket;
    this.tlsState = socket instanceof tls.TLSSocket ? "secure" : "none";
    this.listenTo(socket);
  }

  /** The Node socket carrying the connection, owned by this transport; after `startTLS`, the TLS socket. */
  get socket(): net.Socket {
    return this.current;
  }

  private listenTo(socket: net.Socket): void {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("drain", this.onDrain);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private stopListeningTo(socket: net.Socket): void {
    socket.off("data", this.onData);
    socket.off("end", this.onEnd);
    socket.off("drain", this.onDrain);
    socket.off("close", this.onClose);
    // 'error' stays: an error Node still reports on the socket under TLS becomes the reason, never an uncaught one.
  }

  /**
   * Called once the protocol is built: connects it, or drops the socket if `makeConnection` throws. On a
   * connectSSL / listenSSL connection, whose handshake is already over, `handshakeCompleted` follows at once.
   */
  start(): void {
    try {
      this.protocol.makeConnection(this);
    } catch (err) {
      this.failWith("connectionMade", err);
      return;
    }
    if (this.tlsState === "secure") this.handshakeDone();
  }

  /**
   * Turns this TCP connection TLS in place (ITLSTransport.startTLS with normal=True): a connection we opened
   * starts a TLS client (node:tls `connect({ socket })`, which checks the server's certificate and name as
   * connectSSL does: the name is `servername`, else the peer's IP address, and it is sent as SNI only when it is
   * not an address), an accepted one a TLS server (`new TLSSocket(socket, { isServer: true })`).
   *
   * Guarantees: bytes written before the call go out in clear, all of them, before the first TLS record (Node
   * waits for the socket's pending writes before the TLS layer writes); bytes written after it are encrypted,
   * held until the handshake lets them go, never lost nor sent in clear. Bytes Node had read but not delivered
   * (while reading was paused) are handed to TLS, as Twisted would read them from the kernel after the call; the
   * same protocol keeps receiving, now plaintext, in `dataReceived`. `handshakeCompleted(info)` is called on the
   * protocol, if it has it, once the handshake is done; a failed handshake ends the connection with an SSLError.
   *
   * Throws CannotStartTLSError when TLS is already on (or starting), on a UNIX connection, once the connection is
   * closing, closed or half-closed by us, and for server options asking to verify the client's certificate
   * (`requestCert` with `rejectUnauthorized`): Node checks a client certificate only in its tls.Server, not on a
   * socket turned TLS, so that check would silently not happen.
   */
  startTLS(options: TLSOptions = {}): void {
    if (this.unix) throw new CannotStartTLSError("startTLS needs a TCP connection; this one is a UNIX socket.");
    if (this.tlsState !== "none") throw new CannotStartTLSError("TLS is already started on this connection.");
    if (this.disconnecting || this.disconnected || this.writeClosed) {
      throw new CannotStartTLSError("The connection is closing or closed: TLS can't start on it.");
    }
    const server = options as ServerTLSOptions;
    if (this.side === "server" && server.requestCert && server.rejectUnauthorized !== false) {
      throw new CannotStartTLSError(
        "Verifying a client certificate after startTLS is not supported: pass rejectUnauthorized: false and " +
          "check getPeerCertificate() in handshakeCompleted, or use listenSSL.",
      );
    }
    const plain = this.current;
    this.stopListeningTo(plain);
    // Without a servername, Node would check the certificate against "localhost"; the peer's address is what we
    // connected to (as connectSSL checks its host).
    const host = "host" in this.peer ? this.peer.host : undefined;
    const secured =
      this.side === "client"
        ? tls.connect({ host, ...(options as ClientTLSOptions), socket: plain })
        : new tls.TLSSocket(plain, { ...server, isServer: true });
    this.current = secured;
    this.tlsState = "handshaking";
    this.listenTo(secured);
    secured.once(this.side === "client" ? "secureConnect" : "secure", () => this.handshakeDone());
    if (this.readingPaused) secured.pause();
  }

  /** The handshake completed: the protocol hears of it (IHandshakeListener) unless the connection is gone. */
  private handshakeDone(): void {
    this.tlsState = "secure";
    const p = this.protocol;
    const info = this.getTLSInfo();
    if (this.disconnected || info === null || !isHandshakeListener(p)) return;
    try {
      p.handshakeCompleted(info);
    } catch (err) {
      this.failWith("handshakeCompleted", err);
    }
  }

  /** The peer's certificate once the handshake completed, as node:tls describes it; null otherwise (ISSLTransport). */
  getPeerCertificate(): tls.PeerCertificate | null {
    const s = this.current;
    if (this.tlsState !== "secure" || !(s instanceof tls.TLSSocket)) return null;
    const cert = s.getPeerCertificate();
    return Object.keys(cert).length > 0 ? cert : null;
  }

  /** What the handshake agreed on, once it completed and while the connection is open; null otherwise. */
  getTLSInfo(): TLSInfo | null {
    const s = this.current;
    if (this.tlsState !== "secure" || !(s instanceof tls.TLSSocket)) return null;
    // Node's typings say otherwise, but both are null once the socket is destroyed (its TLS handle is gone).
    const version = s.getProtocol();
    const cipher = s.getCipher() as tls.CipherNameAndProtocol | null;
    if (version === null || cipher === null) return null;
    const servername = (s as tls.TLSSocket & { servername?: unknown }).servername;
    return {
      version,
      cipher: cipher.name,
      alpnProtocol: typeof s.alpnProtocol === "string" ? s.alpnProtocol : null,
      servername: typeof servername === "string" && servername !== "" ? servername : null,
    };
  }

  private failWith(callback: string, err: unknown): void {
    logCallbackError(this.protocol, callback, err);
    this.callbackError ??= err instanceof Error ? err : new Error(String(err));
    this.disconnecting = true;
    this.socket.destroy();
  }

  private deliver(chunk: Buffer): void {
    if (this.disconnecting || this.disconnected) return;
    try {
      this.protocol.dataReceived(chunk);
    } catch (err) {
      this.failWith("dataReceived", err);
    }
  }

  /** The peer shut its write side (FIN). */
  private readConnectionLost(): void {
    if (this.disconnected || this.aborted) return;
    const p = this.protocol;
    if (isHalfCloseable(p) && !this.disconnecting) {
      try {
        p.readConnectionLost();
      } catch (err) {
        this.failWith("readConnectionLost", err);
        return;
      }
      // Both directions are now shut: Node emits 'close' by itself.
      return;
    }
    // Not half-closeable: the connection ends (ConnectionDone). Unlike Twisted, what we still had buffered is
    // flushed before the close instead of being dropped.
    this.closeWriteSide(true);
  }

  private closed(): void {
    if (this.disconnected) return;
    this.markDisconnected();
    const reason: Error = this.callbackError
      ? this.callbackError
      : this.aborted
        ? new ConnectionAborted()
        : this.socketError
          ? fromNodeError(this.socketError, "connection")
          : new ConnectionDone();
    try {
      this.protocol.connectionLost(reason);
    } catch (err) {
      logCallbackError(this.protocol, "connectionLost", err);
    }
    this.onLost(reason);
  }

  protected writeData(data: Bytes): void {
    this.socket.write(data);
  }

  /** A sequence goes out as one write of the socket (corked). */
  protected override writeChunks(data: readonly Bytes[]): void {
    if (data.length > 1) this.socket.cork();
    super.writeChunks(data);
    if (data.length > 1) this.socket.uncork();
  }

  /** How many bytes are queued in Node and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Node's buffer of the socket: the producer rules watch it. */
  protected override get writeBuffer(): WriteBuffer {
    return this.socket;
  }

  /**
   * After `loseConnection()` held back by a producer: close once no pull producer nor paused streaming producer
   * remains (Twisted's doWrite closes when the buffer empties and the producer is not paused).
   */
  private closeIfProducerAllows(): void {
    if (!this.closeWhenProducerDone || this.disconnected || this.producerWaiting) return;
    this.closeWhenProducerDone = false;
    this.closeWriteSide(true);
  }

  loseConnection(): void {
    if (this.disconnecting || this.disconnected) return;
    this.disconnecting = true;
    this.socket.pause(); // Stop reading at once; nothing more is delivered.
    if (this.producerWaiting) {
      // Twisted waits for a pull producer or a paused streaming producer to unregister before closing.
      this.closeWhenProducerDone = true;
      return;
    }
    this.closeWriteSide(true);
  }

  /** Flushes and shuts the write side; with `thenClose`, closes the socket fully once flushed. */
  private closeWriteSide(thenClose: boolean): void {
    if (this.writeClosed) {
      if (thenClose && this.socket.writableFinished) this.socket.destroy();
      else if (thenClose) this.socket.once("finish", () => this.closeSocket());
      return;
    }
    this.writeClosed = true;
    this.socket.end(() => {
      if (thenClose || this.aborted) this.closeSocket();
    });
  }

  /** Closes the socket once our side is flushed: a reset if `abortConnection()` came meanwhile, else orderly. */
  private closeSocket(): void {
    if (this.aborted) this.resetSocket();
    else this.socket.destroy();
  }

  /**
   * Resets the connection (RST), discarding whatever is buffered; also after `loseConnection()` or
   * `loseWriteConnection()`, as in Twisted. 'close' (and so `connectionLost(ConnectionAborted)`) follows on a later
   * turn. Node difference: while our FIN is being sent (a close or half-close with nothing left in Node's buffer),
   * libuv refuses to reset (uv_tcp_close_reset: EINVAL, after which Node would never close the socket); the reset
   * then waits for that shutdown, which libuv (1.46, Node 20) completes on the next turn of the loop whether or not
   * the peer reads. Over TLS, no close_notify is sent and nothing queued is flushed, but the TCP close is a FIN, not
   * an RST (Node's TLS layer owns the socket): a Twisted peer reports ConnectionLost (no close_notify), a Node peer
   * a plain end.
   */
  abortConnection(): void {
    if (this.aborted || this.disconnected) return;
    this.aborted = true;
    this.disconnecting = true;
    this.writeClosed = true;
    this.closeWhenProducerDone = false;
    if (this.canReset() && this.shutdownPending()) return; // the end() callback resets: see closeSocket.
    this.resetSocket();
  }

  /** Whether Node can send an RST here: a TCP socket not yet closed (not TLS, whose layer owns it; not UNIX). */
  private canReset(): boolean {
    return !this.unix && !this.isTLS() && !this.socket.destroyed;
  }

  /** Whether `end()` was called and Node has handed the shutdown (our FIN) to libuv, which hasn't completed it. */
  private shutdownPending(): boolean {
    const s = this.socket;
    return s.writableEnded && !s.writableFinished && s.writableLength === 0;
  }

  /** Closes the socket at once: an RST where Node can send one, else a plain close. */
  private resetSocket(): void {
    if (this.canReset()) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  private isTLS(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  loseWriteConnection(): void {
    if (this.writeClosed || this.disconnected) return;
    this.writeClosed = true;
    this.socket.end(() => {
      if (this.disconnected) return;
      if (this.aborted) {
        this.resetSocket();
        return;
      }
      const p = this.protocol;
      if (isHalfCloseable(p)) {
        try {
          p.writeConnectionLost();
        } catch (err) {
          this.failWith("writeConnectionLost", err);
        }
      }
    });
  }

  protected override applyTcpNoDelay(enabled: boolean): void {
    this.socket.setNoDelay(enabled);
  }

  protected override applyTcpKeepAlive(enabled: boolean): void {
    this.socket.setKeepAlive(enabled);
  }

  /** A close held back by the producer goes on once it is unregistered. */
  protected override producerUnregistered(): void {
    this.closeIfProducerAllows();
  }

  protected override stopReading(): void {
    this.readingPaused = true;
    this.socket.pause();
  }

  protected override startReading(): void {
    this.readingPaused = false;
    this.socket.resume();
  }

  override toString(): string {
    return `<Connection ${this.peer.toString()}>`;
  }
}

/** Where a Connector connects: a TCP host and port, or a UNIX path; with TLS options for an SSL connection. */
export type Destination =
  { kind: "tcp"; host: string; port: number; tls?: ClientTLSOptions } | { kind: "unix"; path: string };

/**
 * A client connection attempt that can be repeated (twisted.internet.base.BaseConnector, tcp.Connector).
 *
 * `connect()` calls the factory's doStart (first time), arms the timeout, calls `startedConnecting`, and starts
 * the real connect on the next turn. On failure: `clientConnectionFailed`; on loss of an established connection:
 * protocol.connectionLost -> `clientConnectionLost`; then the factory's doStop unless the factory connected again.
 */
export class Connector implements IConnector {
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  /** The transport of the current connection, once connected. */
  transport: Connection | null = null;
  private socket: net.Socket | null = null;
  private timeoutCall: DelayedCall | null = null;
  private startCall: DelayedCall | null = null;
  private factoryStarted = false;

  constructor(
    readonly destination: Destination,
    readonly factory: IProtocolFactory,
    /** Seconds before an attempt fails with TimeoutError; null for none. */
    readonly timeout: number | null = 30,
    readonly bindAddress: readonly [string, number] | null = null,
    private readonly clock: IReactorTime = reactorTime,
  ) {}

  connect(): void {
    if (this.state !== "disconnected") {
      throw new AlreadyConnectingError(`Can't connect in this state: the connector is ${this.state}.`);
    }
    this.state = "connecting";
    if (!this.factoryStarted) {
      this.factory.doStart();
      this.factoryStarted = true;
    }
    this.startCall = this.clock.callLater(0, () => this.startSocket()) as DelayedCall;
    if (this.timeout !== null) {
      this.timeoutCall = this.clock.callLater(this.timeout, () =>
        this.connectionFailed(new TimeoutError(`${this.timeout} seconds`)),
      ) as DelayedCall;
    }
    if (isClientFactory(this.factory)) this.factory.startedConnecting(this);
  }

  private startSocket(): void {
    this.startCall = null;
    if (this.state !== "connecting") return;
    const d = this.destination;
    let socket: net.Socket;
    let connectEvent: "connect" | "secureConnect" = "connect";
    if (d.kind === "unix") {
      socket = net.connect({ path: d.path, allowHalfOpen: true });
    } else {
      const base: net.TcpNetConnectOpts = { host: d.host, port: d.port, allowHalfOpen: true };
      if (this.bindAddress) {
        base.localAddress = this.bindAddress[0];
        base.localPort = this.bindAddress[1] || undefined;
      }
      if (d.tls) {
        socket = tls.connect({ ...base, ...d.tls });
        connectEvent = "secureConnect";
      } else {
        socket = net.connect(base);
      }
    }
    this.socket = socket;
    const onError = (err: Error) => {
      if (this.socket === socket) this.connectionFailed(fromNodeError(err, "connect"));
    };
    socket.once("error", onError);
    socket.once(connectEvent, () => {
      socket.removeListener("error", onError);
      if (this.socket === socket && this.state === "connecting") this.connected(socket);
    });
  }

  private connected(socket: net.Socket): void {
    this.cancelTimers();
    this.state = "connected";
    const unixPath = this.destination.kind === "unix" ? this.destination.path : null;
    const peer = socketAddress(socket, "remote", unixPath);
    let protocol: IProtocol | null;
    try {
      protocol = this.factory.buildProtocol(peer);
    } catch (err) {
      log.failure("buildProtocol failed; closing the connection", err, { factory: this.factory.constructor.name });
      protocol = null;
    }
    // Twisted: a client factory may return null; a stand-in protocol gets the loss while the socket is closed.
    const refused = protocol === null;
    const transport = new Connection(
      socket,
      protocol ?? { makeConnection() {}, dataReceived() {}, connectionLost() {} },
      "client",
      (reason) => this.connectionLost(reason),
      unixPath,
    );
    this.transport = transport;
    if (refused) transport.loseConnection();
    else transport.start();
  }

  private cancelTimers(): void {
    if (this.timeoutCall?.active()) this.timeoutCall.cancel();
    if (this.startCall?.active()) this.startCall.cancel();
    this.timeoutCall = null;
    this.startCall = null;
  }

  private connectionFailed(reason: Error): void {
    if (this.state !== "connecting") return;
    this.cancelTimers();
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.state = "disconnected";
    if (isClientFactory(this.factory)) this.factory.clientConnectionFailed(this, reason);
    this.stopFactoryIfIdle();
  }

  private connectionLost(reason: Error): void {
    this.socket = null;
    this.transport = null;
    this.state = "disconnected";
    if (isClientFactory(this.factory)) this.factory.clientConnectionLost(this, reason);
    this.stopFactoryIfIdle();
  }

  private stopFactoryIfIdle(): void {
    if (this.state === "disconnected" && this.factoryStarted) {
      this.factoryStarted = false;
      this.factory.doStop();
    }
  }

  stopConnecting(): void {
    if (this.state !== "connecting") throw new NotConnectingError();
    this.connectionFailed(new UserError());
  }

  disconnect(): void {
    if (this.state === "connecting") this.stopConnecting();
    else if (this.state === "connected") this.transport?.loseConnection();
  }

  getDestination(): Address {
    const d = this.destination;
    return d.kind === "unix" ? new UNIXAddress(d.path) : tcpAddress(d.host, d.port);
  }

  toString(): string {
    return `<Connector to ${this.getDestination().toString()} ${this.state}>`;
  }
}

/** What a ListeningPort binds. */
export type Bind =
  | { kind: "tcp"; port: number; interface: string; backlog: number; tls?: ServerTLSOptions }
  | { kind: "unix"; path: string; mode: number | null; backlog: number };

/**
 * A listening socket (twisted.internet.tcp.Port, unix.Port). The reactor calls `startListening()`; Node binds
 * asynchronously, so `listening` resolves once bound (and the factory's doStart has run) or rejects with
 * CannotListenError. Each accepted connection gets `factory.buildProtocol(peer)`; null closes the socket.
 */
export class ListeningPort implements IListeningPort {
  readonly listening: Promise<void>;
  /** All connections accepted and not yet lost. */
  readonly connections = new Set<Connection>();
  private server: net.Server | null = null;
  private resolveListening!: () => void;
  private rejectListening!: (err: Error) => void;
  private bound: Address | null = null;
  private stopping: Promise<void> | null = null;
  private factoryStarted = false;

  constructor(
    readonly bind: Bind,
    readonly factory: IProtocolFactory,
  ) {
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    // A failed bind is reported through `listening`; don't let an unobserved rejection crash the process.
    this.listening.catch(() => {});
  }

  startListening(): void {
    if (this.server !== null) return;
    const b = this.bind;
    const onSocket = (socket: net.Socket) => this.accepted(socket);
    const server =
      b.kind === "tcp" && b.tls
        ? tls.createServer({ ...b.tls, allowHalfOpen: true }, onSocket)
        : net.createServer({ allowHalfOpen: true }, onSocket);
    this.server = server;
    if (server instanceof tls.Server) {
      server.on("tlsClientError", (err, socket) => {
        log.warn("TLS handshake with {peer} failed: {error}", { peer: socket.remoteAddress, error: err.message });
      });
    }
    server.once("error", (err) => {
      this.server = null;
      const where = b.kind === "tcp" ? b.interface : "";
      const port = b.kind === "tcp" ? b.port : b.path;
      this.rejectListening(new CannotListenError(where, port, err));
    });
    server.once("listening", () => {
      server.on("error", (err) => log.failure("Error on listening port", err));
      if (b.kind === "unix") {
        this.bound = new UNIXAddress(b.path);
        if (b.mode !== null) fs.chmodSync(b.path, b.mode);
      } else {
        const a = server.address() as net.AddressInfo;
        this.bound = tcpAddress(a.address, a.port, a.family);
      }
      this.factoryStarted = true;
      this.factory.doStart();
      this.resolveListening();
    });
    if (b.kind === "unix") server.listen({ path: b.path, backlog: b.backlog });
    else server.listen({ port: b.port, host: b.interface || "0.0.0.0", backlog: b.backlog });
  }

  private accepted(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const unixPath = this.bind.kind === "unix" ? this.bind.path : null;
    const peer = socketAddress(socket, "remote", unixPath);
    let protocol: IProtocol | null;
    try {
      protocol = this.factory.buildProtocol(peer);
    } catch (err) {
      log.failure("buildProtocol failed; closing the accepted connection", err);
      protocol = null;
    }
    if (protocol === null) {
      socket.destroy();
      return;
    }
    const transport: Connection = new Connection(
      socket,
      protocol,
      "server",
      () => this.connections.delete(transport),
      unixPath,
    );
    this.connections.add(transport);
    transport.start();
  }

  /**
   * Stops accepting connections and releases the port at once; resolves after the factory's doStop. Open
   * connections are left alone (Node's server.close callback would wait for them: we don't).
   */
  stopListening(): Promise<void> {
    if (this.stopping) return this.stopping;
    const server = this.server;
    this.stopping = new Promise((resolve) => {
      server?.close();
      setImmediate(() => {
        if (this.factoryStarted) {
          this.factoryStarted = false;
          this.factory.doStop();
        }
        resolve();
      });
    });
    return this.stopping;
  }

  /** The address bound. Before `listening` resolves, the requested one. */
  getHost(): Address {
    if (this.bound) return this.bound;
    const b = this.bind;
    return b.kind === "unix" ? new UNIXAddress(b.path) : tcpAddress(b.interface || "0.0.0.0", b.port);
  }

  toString(): string {
    return `<ListeningPort ${this.getHost().toString()}>`;
  }
}
