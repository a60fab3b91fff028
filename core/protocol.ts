/**
 * Protocols and factories (src/twisted/internet/protocol.py).
 *
 * A Protocol is built by a Factory for each connection and receives events from its transport:
 * `makeConnection` -> `connectionMade`, any number of `dataReceived`, then `connectionLost` exactly once.
 * Users subclass Protocol and override the callbacks; the names are Twisted's.
 */
import type { Address } from "./address.ts";
import { ConnectionDone } from "./errors.ts";
import type { Bytes, IConnector, IProtocol, IProtocolFactory, ITransport } from "./interfaces.ts";
import { Logger, type Span } from "./logger.ts";

/** The reason `connectionLost` receives after a clean close (Twisted's `connectionDone` failure). */
export const connectionDone = (): ConnectionDone => new ConnectionDone();

/**
 * The base of all protocols (twisted.internet.protocol.BaseProtocol): connection state and `makeConnection`.
 */
export class BaseProtocol {
  /** True between `makeConnection` and `connectionLost`. */
  connected = false;
  /**
   * The transport this protocol talks through; set by `makeConnection` before `connectionMade` runs.
   * Declared non-null for convenience: it is only null before the connection is made.
   */
  transport!: ITransport;
  #messageSpan: Span | null = null;
  /** A span set by its numbers (`setMessageSpanAt`) and not read yet: its offset (-1: none) and length. */
  #spanOffset = -1;
  #spanLength = 0;
  /** Whether this instance has an own `messageSpan` property (see setMessageSpanAt); known at the first message. */
  #ownSpanField: boolean | undefined;

  /**
   * The stream bytes of the message a framer is delivering now: set by LineReceiver, the string receivers and
   * StatefulProtocol around each callback, null between them. `log.message` attaches it to what it reports.
   */
  get messageSpan(): Span | null {
    if (this.#spanOffset >= 0) {
      this.#messageSpan = { dir: "in", offset: this.#spanOffset, length: this.#spanLength };
      this.#spanOffset = -1;
    }
    return this.#messageSpan;
  }

  set messageSpan(span: Span | null) {
    this.#messageSpan = span;
    this.#spanOffset = -1;
  }

  /**
   * Sets `messageSpan` to `length` received bytes at `offset`, made into a span object only if read: a framer
   * delivering a message at a time calls this for each, and most are never logged.
   */
  protected setMessageSpanAt(offset: number, length: number): void {
    // A subclass that declares the field itself (`messageSpan: Span | null = null`, with define semantics) has an own
    // property that hides the accessor: set that one, as a span.
    this.#ownSpanField ??= Object.hasOwn(this, "messageSpan");
    if (this.#ownSpanField) {
      this.messageSpan = { dir: "in", offset, length };
      return;
    }
    this.#messageSpan = null;
    this.#spanOffset = offset;
    this.#spanLength = length;
  }
  #log: Logger | undefined;

  /**
   * A logger bound to this protocol: its events carry `log_source: this`, so the app shows them on this
   * connection's timeline. The namespace is the class name.
   */
  get log(): Logger {
    this.#log ??= new Logger(this.constructor.name, this);
    return this.#log;
  }

  /**
   * Called by the transport when the connection is established: sets `connected` and `transport`,
   * then calls `connectionMade()` synchronously.
   */
  makeConnection(transport: ITransport): void {
    this.connected = true;
    this.transport = transport;
    this.connectionMade();
  }

  /** Called once when the connection is made. Override to send a greeting, start a timer, etc. */
  connectionMade(): void {}
}

/**
 * A stream protocol (twisted.internet.protocol.Protocol). Override `dataReceived` and `connectionLost`.
 * `factory` is set by `Factory.buildProtocol`.
 */
export class Protocol extends BaseProtocol implements IProtocol {
  /** The factory that built this protocol, if a factory did. */
  factory: Factory | null = null;

  /**
   * Called with each chunk of bytes as it arrives. Chunks are an arbitrary split of the stream: half a message,
   * several messages, or one byte each. If it throws, the connection is dropped with that error as the reason.
   */
  dataReceived(_data: Bytes): void {}

  /**
   * Called exactly once when the connection is gone, after any data that was queued before the close.
   * `reason` is a ConnectionDone (clean close by either side), a ConnectionLost (reset, socket error),
   * a ConnectionAborted (our `abortConnection()`), or the error a callback of ours threw.
   */
  connectionLost(_reason: Error): void {
    this.connected = false;
  }
}

/** A constructor of protocols, as stored in `Factory.protocol`. */
export type ProtocolClass<P extends IProtocol = IProtocol> = new () => P;

/**
 * Makes protocols (twisted.internet.protocol.Factory). Set `protocol` to a Protocol class, or override
 * `buildProtocol`. `doStart`/`doStop` are counted: `startFactory` runs when the first port or connector starts
 * using the factory, `stopFactory` when the last one stops.
 */
export class Factory implements IProtocolFactory {
  /** The class `buildProtocol` instantiates. */
  protocol: ProtocolClass | null = null;
  /** How many ports/connectors currently use this factory. */
  numPorts = 0;
  /** Whether `doStart`/`doStop` log a line (Twisted's `noisy`). */
  noisy = false;
  #log: Logger | undefined;

  /** A logger bound to this factory. */
  get log(): Logger {
    this.#log ??= new Logger(this.constructor.name, this);
    return this.#log;
  }

  /** Creates a factory whose `protocol` is `protocolClass`, with `props` assigned onto it. */
  static forProtocol<F extends Factory>(this: new () => F, protocolClass: ProtocolClass, props?: Partial<F>): F {
    const factory = new this();
    factory.protocol = protocolClass;
    if (props) Object.assign(factory, props);
    return factory;
  }

  /** Called by a port or connector when it starts using this factory. Calls `startFactory` on the first. */
  doStart(): void {
    if (this.numPorts === 0) {
      if (this.noisy) this.log.info("Starting factory {factory}", { factory: this.constructor.name });
      this.startFactory();
    }
    this.numPorts += 1;
  }

  /** Called by a port or connector when it stops using this factory. Calls `stopFactory` on the last. */
  doStop(): void {
    if (this.numPorts === 0) return; // Twisted: "This should never happen" — tolerate a double stop.
    this.numPorts -= 1;
    if (this.numPorts === 0) {
      if (this.noisy) this.log.info("Stopping factory {factory}", { factory: this.constructor.name });
      this.stopFactory();
    }
  }

  /** Called once, before the first connection, when the factory starts being used. Override to open resources. */
  startFactory(): void {}

  /** Called once when no port or connector uses the factory any more. Override to release resources. */
  stopFactory(): void {}

  /**
   * Builds the protocol for a new connection to or from `addr`: `new this.protocol()`, with `factory` set.
   * Return null to refuse the connection (a server then closes the socket).
   */
  buildProtocol(_addr: Address): IProtocol | null {
    if (this.protocol === null) throw new TypeError(`${this.constructor.name}.protocol is not set`);
    const p = new this.protocol();
    (p as { factory?: unknown }).factory = this;
    return p;
  }
}

/** A factory for client connections, with the connector's hooks (twisted.internet.protocol.ClientFactory). */
export class ClientFactory extends Factory {
  /** Called when a connection attempt starts (before the socket connects). */
  startedConnecting(_connector: IConnector): void {}
  /** Called when an attempt failed: refused, timed out, stopped by the user. The connector may `connect()` again. */
  clientConnectionFailed(_connector: IConnector, _reason: Error): void {}
  /** Called after an established connection is lost, after the protocol's `connectionLost`. */
  clientConnectionLost(_connector: IConnector, _reason: Error): void {}
}

/** A factory for servers (twisted.internet.protocol.ServerFactory); the name says what it is for. */
export class ServerFactory extends Factory {}
