/**
 * The reactor user code sees inside the sandbox (`import { reactor } from "wirescope"` resolves to it).
 *
 * Time runs natively in the worker (the core's reactorTime, which the runtime makes attribute each call to the
 * connection whose code scheduled it: an error in it halts that connection). Connections are opened by the main
 * thread, so they are recorded like every other: `connectTCP` returns a BridgeConnector at once and asks main
 * (SandboxGroup.onConnectRequest); when the real connection is made, main attaches it and the runtime builds the
 * protocol with the user's factory. Listening from a protocol is refused with a clear error: a listener is a
 * session of its own in the app.
 */
import { tcpAddress, type Address } from "../../core/address.ts";
import { reactorTime, type DelayedCall } from "../../core/base.ts";
import { AlreadyConnectingError, NotConnectingError, UserError } from "../../core/errors.ts";
import type {
  ConnectTCPOptions,
  IConnector,
  IListeningPort,
  IProtocol,
  IProtocolFactory,
  IReactorNet,
} from "../../core/interfaces.ts";
import type { ClientFactory } from "../../core/protocol.ts";
import type { BridgeTransport } from "./bridge-transport.ts";
import type { FromWorker } from "./messages.ts";

/** The message user code gets when it tries to listen. */
export const LISTEN_REFUSED = "listening from a protocol is not supported in the sandbox; start a listener session";

/** What the reactor needs from the sandbox runtime. */
export interface ReactorHost<Owner> {
  /** The connection whose code is running now, or null (module code, or no connection). */
  currentOwner(): Owner | null;
  /** Runs `fn` as code of `owner`: skipped if the owner is halted; an error halts the owner and is reported. */
  runAs(owner: Owner | null, callback: string, fn: () => void): void;
  /** The connection id of an owner, for the engine to link a connection to the one that opened it. */
  ownerId(owner: Owner): number;
  /** Queues an operation for the main thread. */
  post(op: FromWorker): void;
  /** Remembers a connector waiting for main's answer to request `requestId`. */
  pending(requestId: number, connector: BridgeConnector<Owner>): void;
  /** Forgets request `requestId`. */
  settled(requestId: number): void;
}

function isClientFactory(f: IProtocolFactory): f is ClientFactory {
  const cf = f as Partial<ClientFactory>;
  return typeof cf.clientConnectionFailed === "function" && typeof cf.clientConnectionLost === "function";
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`connectTCP: port must be an integer from 0 to 65535, got ${String(port)}`);
  }
}

let nextRequestId = 1;

/**
 * A client connection attempt made from user code (the core's Connector, with the socket on the main thread).
 *
 * Follows core/tcp.ts's Connector: `connect()` calls the factory's doStart (first time), `startedConnecting`, and
 * asks main; failure -> `clientConnectionFailed`; loss -> protocol.connectionLost -> `clientConnectionLost`; then
 * doStop unless the factory connected again. The factory's hooks run as code of the connection that created the
 * connector (an error in them halts that connection). The timeout is applied by main when it connects.
 */
export class BridgeConnector<Owner> implements IConnector {
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  /** The transport of the current connection, once connected. */
  transport: BridgeTransport | null = null;
  private requestId: number | null = null;
  private factoryStarted = false;

  constructor(
    private readonly host: ReactorHost<Owner>,
    readonly destination: { host: string; port: number },
    readonly factory: IProtocolFactory,
    readonly timeout: number,
    /** The connection whose code created this connector, or null. */
    readonly owner: Owner | null,
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
    const requestId = nextRequestId++;
    this.requestId = requestId;
    this.host.pending(requestId, this);
    this.host.post({
      op: "connect",
      requestId,
      host: this.destination.host,
      port: this.destination.port,
      timeout: this.timeout,
      parentId: this.owner === null ? null : this.host.ownerId(this.owner),
    });
    if (isClientFactory(this.factory)) this.factory.startedConnecting(this);
  }

  stopConnecting(): void {
    if (this.state !== "connecting") throw new NotConnectingError();
    if (this.requestId !== null) this.host.post({ op: "cancelConnect", requestId: this.requestId });
    this.connectionFailed(new UserError());
  }

  disconnect(): void {
    if (this.state === "connecting") this.stopConnecting();
    else if (this.state === "connected") this.transport?.loseConnection();
  }

  getDestination(): Address {
    return tcpAddress(this.destination.host, this.destination.port);
  }

  /**
   * Called by the runtime when main made the real connection: builds the protocol with the factory. Returns null
   * when the attempt was stopped meanwhile or the factory refused (the runtime then closes the connection).
   */
  connectionMade(transport: BridgeTransport, peer: Address): IProtocol | null {
    if (this.state !== "connecting") return null;
    this.settle();
    this.state = "connected";
    this.transport = transport;
    return this.factory.buildProtocol(peer);
  }

  /** Called by the runtime when main could not connect, or by `stopConnecting()`. */
  connectionFailed(reason: Error): void {
    if (this.state !== "connecting") return;
    this.settle();
    this.state = "disconnected";
    this.host.runAs(this.owner, "clientConnectionFailed", () => {
      if (isClientFactory(this.factory)) this.factory.clientConnectionFailed(this, reason);
    });
    this.stopFactoryIfIdle();
  }

  /** Called by the runtime after the protocol's connectionLost. */
  connectionLost(reason: Error): void {
    this.transport = null;
    this.state = "disconnected";
    this.host.runAs(this.owner, "clientConnectionLost", () => {
      if (isClientFactory(this.factory)) this.factory.clientConnectionLost(this, reason);
    });
    this.stopFactoryIfIdle();
  }

  private settle(): void {
    if (this.requestId !== null) this.host.settled(this.requestId);
    this.requestId = null;
  }

  private stopFactoryIfIdle(): void {
    if (this.state === "disconnected" && this.factoryStarted) {
      this.factoryStarted = false;
      this.host.runAs(this.owner, "stopFactory", () => this.factory.doStop());
    }
  }

  toString(): string {
    return `<BridgeConnector to ${this.getDestination().toString()} ${this.state}>`;
  }
}

/**
 * The sandbox's reactor. Implements the core's IReactorNet so endpoints and helpers written against a reactor work;
 * what cannot work in the sandbox throws an error that says so.
 */
export class BridgeReactor<Owner> implements IReactorNet {
  constructor(private readonly host: ReactorHost<Owner>) {}

  seconds(): number {
    return reactorTime.seconds();
  }

  /**
   * Calls `fn(...args)` after `delay` seconds, as code of the connection that scheduled it (see SandboxRuntime's
   * timers: an error halts that connection and is reported with the user's source line).
   */
  callLater<A extends unknown[]>(delay: number, fn: (...args: A) => unknown, ...args: A): DelayedCall {
    return reactorTime.callLater(delay, fn, ...args);
  }

  getDelayedCalls(): DelayedCall[] {
    return reactorTime.getDelayedCalls();
  }

  /**
   * Connects to `host:port` through the main thread (the connection is recorded like any other) and returns the
   * connector at once. `timeout` (seconds, default 30) is applied by main.
   */
  connectTCP(
    host: string,
    port: number,
    factory: IProtocolFactory,
    options: ConnectTCPOptions = {},
  ): BridgeConnector<Owner> {
    checkPort(port);
    if (options.bindAddress) throw new Error("connectTCP: bindAddress is not supported in the sandbox");
    const connector = new BridgeConnector(
      this.host,
      { host, port },
      factory,
      options.timeout ?? 30,
      this.host.currentOwner(),
    );
    connector.connect();
    return connector;
  }

  connectSSL(): IConnector {
    throw new Error("connectSSL is not supported in the sandbox yet; connect with connectTCP");
  }

  connectUNIX(): IConnector {
    throw new Error("connectUNIX is not supported in the sandbox; connect with connectTCP");
  }

  listenTCP(): IListeningPort {
    throw new Error(LISTEN_REFUSED);
  }

  listenSSL(): IListeningPort {
    throw new Error(LISTEN_REFUSED);
  }

  listenUNIX(): IListeningPort {
    throw new Error(LISTEN_REFUSED);
  }

  /** Child processes are not opened from the sandbox: they would escape the app's recording. */
  spawnProcess(): never {
    throw new Error("spawning processes from a protocol is not supported in the sandbox");
  }
}
