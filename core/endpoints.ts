/**
 * Endpoints and the endpoint description mini-language (src/twisted/internet/endpoints.py).
 *
 * An endpoint is a place to listen on or to connect to, described once and used with any factory:
 *
 *     const port = await serverFromString(reactor, "tcp:8080:interface=127.0.0.1").listen(factory);
 *     const proto = await clientFromString(reactor, "tcp:example.com:80").connect(factory);
 *
 * The grammar is Twisted's: `:` separates parameters, the first `=` of a parameter splits key and value, `\`
 * escapes the next character, and parameters without `=` are positional. The first positional is the type.
 *
 * Server types: `tcp:PORT[:interface=][:backlog=50]`, `tcp6:PORT[:interface=::][:backlog=50]`,
 * `ssl:PORT[:privateKey=server.pem][:certKey=][:extraCertChain=][:dhParameters=][:sslmethod=][:interface=][:backlog=]`,
 * `unix:PATH[:mode=666][:backlog=50][:lockfile=1]`.
 * Client types: `tcp:HOST:PORT[:timeout=30][:bindAddress=IP]`, `ssl:HOST:PORT[:hostname=][:caCertsDir=]
 * [:certKey=][:privateKey=][:timeout=][:bindAddress=]`, `unix:PATH[:timeout=30][:checkPID=0]`.
 * Twisted's plugin types (stdio, systemd, tls, ...) and its client-only HostnameEndpoint are not here.
 *
 * Everything that can be wrong in a description is reported when it is parsed, by an EndpointParseError that
 * names the parameter and says what was expected; listening and connecting then fail only for network reasons.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { tcpAddress, UNIXAddress, type Address } from "./address.ts";
import { CannotListenError, TwistedError } from "./errors.ts";
import {
  isHalfCloseable,
  isHandshakeListener,
  type Bytes,
  type ClientTLSOptions,
  type IConnector,
  type IHalfCloseableProtocol,
  type IListeningPort,
  type IProtocol,
  type IProtocolFactory,
  type IReactorNet,
  type ServerTLSOptions,
  type TLSInfo,
} from "./interfaces.ts";
import { ClientFactory, Protocol } from "./protocol.ts";

// ---------------------------------------------------------------------------------------------------------------
// Errors

/**
 * An endpoint description can't be used: unknown type, unknown or repeated parameter, a port out of range, an
 * unreadable key file... Thrown by `parseEndpointString`, `serverFromString` and `clientFromString` (Twisted
 * raises ValueError). The message says what was expected; `parameter` names the offending parameter when there
 * is one, so the app can point at it.
 */
export class EndpointParseError extends TwistedError {
  /** The parameter at fault ("port", "privateKey", ...), or null when the description as a whole is. */
  readonly parameter: string | null;

  constructor(message: string, options: { parameter?: string | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.parameter = options.parameter ?? null;
  }
}

/**
 * A client endpoint's `connect()` was cancelled (its AbortSignal aborted) before the connection was made
 * (twisted.internet.error.ConnectingCancelledError). `address` is where it was connecting to; `cause` is the
 * signal's reason.
 */
export class ConnectingCancelledError extends TwistedError {
  constructor(
    readonly address: Address,
    options?: { cause?: unknown },
  ) {
    super(`Connecting to ${address.toString()} was cancelled.`, options);
  }
}

/**
 * The factory given to a client endpoint returned null from `buildProtocol` (twisted.internet.error.NoProtocol):
 * there is no protocol to hand back, so `connect()` rejects with this and the connection is closed.
 */
export class NoProtocol extends TwistedError {
  constructor() {
    super("The factory's buildProtocol returned null: there is no protocol to connect.");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The grammar

/** An endpoint description split by the grammar, before any type-specific meaning is given to it. */
export interface ParsedEndpointString {
  /** The first positional parameter, as written (types are matched case-insensitively). */
  type: string;
  /** The other positional parameters, unescaped, in order. */
  args: string[];
  /** The `key=value` parameters, unescaped. A repeated key keeps its last value, as in Twisted. */
  kwargs: Record<string, string>;
}

/**
 * Splits a description by Twisted's grammar (endpoints._tokenize and _parse): `:` separates parameters; in each
 * parameter the first unescaped `=` splits key from value (later `=` are part of the value); `\` makes the next
 * character literal. The type is the first positional parameter wherever it stands, as in Twisted. Throws
 * EndpointParseError for an empty description, one without a positional parameter, or one that ends with a lone
 * `\` (Twisted fails there with an internal error).
 *
 *     parseEndpointString("unix:foo\\:bar\\=baz:mode=660")
 *     // { type: "unix", args: ["foo:bar=baz"], kwargs: { mode: "660" } }
 */
export function parseEndpointString(description: string): ParsedEndpointString {
  if (description.trim() === "") {
    throw new EndpointParseError("Empty endpoint description: expected TYPE:ARGUMENTS, for example tcp:8080.");
  }
  const positional: string[] = [];
  const keywords = new Map<string, string>();
  for (const segment of splitSegments(description)) {
    if (segment.length === 1) positional.push(segment[0]!);
    else keywords.set(segment[0]!, segment[1]!);
  }
  const [type, ...args] = positional;
  if (type === undefined) {
    throw new EndpointParseError(
      `Endpoint description '${description}' has no type: expected TYPE:ARGUMENTS, for example tcp:8080.`,
    );
  }
  return { type, args, kwargs: Object.fromEntries(keywords) };
}

/** The tokenizer: each parameter as [value] (positional) or [key, value]. */
function splitSegments(description: string): string[][] {
  const segments: string[][] = [];
  let current: string[] = [];
  let text = "";
  for (let i = 0; i < description.length; i++) {
    const c = description[i]!;
    if (c === "\\") {
      i++;
      if (i >= description.length) {
        throw new EndpointParseError(
          `Endpoint description '${description}' ends with a lone backslash: write \\\\ for a literal backslash.`,
        );
      }
      text += description[i];
    } else if (c === ":") {
      current.push(text);
      segments.push(current);
      current = [];
      text = "";
    } else if (c === "=" && current.length === 0) {
      current.push(text);
      text = "";
    } else {
      text += c;
    }
  }
  current.push(text);
  segments.push(current);
  return segments;
}

/**
 * Escapes `\` and `:` in a value so it can be put into a description and read back unchanged
 * (endpoints.quoteStringArgument). Use it for paths: `ssl:443:privateKey=${quoteStringArgument(file)}`.
 */
export function quoteStringArgument(argument: string): string {
  return argument.replace(/[\\:]/g, "\\$&");
}

// ---------------------------------------------------------------------------------------------------------------
// Values

/**
 * Reads a port number from a description. `allowZero` is for servers (0 asks the system for a free port);
 * clients need 1-65535. Throws EndpointParseError, e.g. "port must be an integer 0-65535, got '70000'".
 */
export function parsePortNumber(text: string, options: { allowZero?: boolean; parameter?: string } = {}): number {
  const parameter = options.parameter ?? "port";
  const low = options.allowZero ? 0 : 1;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= low && n <= 65535)) {
    throw new EndpointParseError(`${parameter} must be an integer ${low}-65535, got '${text}'`, { parameter });
  }
  return n;
}

function parseCount(text: string, parameter: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw new EndpointParseError(`${parameter} must be a non-negative integer, got '${text}'`, { parameter });
  }
  return Number(text);
}

/** Seconds. Twisted takes an integer here; a decimal is accepted too, since the reactor takes any number. */
function parseSeconds(text: string, parameter: string): number {
  if (!/^\d{1,9}(\.\d+)?$/.test(text)) {
    throw new EndpointParseError(`${parameter} must be a number of seconds, got '${text}'`, { parameter });
  }
  return Number(text);
}

/** An octal file mode, as in Twisted's `int(mode, 8)`: 666, 0660, 0o600. */
function parseMode(text: string): number {
  const digits = /^(?:0o)?([0-7]{1,4})$/i.exec(text);
  if (digits === null) {
    throw new EndpointParseError(`mode must be an octal file mode such as 666 or 0600, got '${text}'`, {
      parameter: "mode",
    });
  }
  return parseInt(digits[1]!, 8);
}

/** Twisted's `bool(int(value))`. */
function parseFlag(text: string, parameter: string): boolean {
  if (!/^\d{1,9}$/.test(text)) {
    throw new EndpointParseError(`${parameter} must be 0 or 1, got '${text}'`, { parameter });
  }
  return Number(text) !== 0;
}

/** Reads a file named by a parameter; a failure becomes an EndpointParseError naming the parameter and the file. */
function readNamedFile(file: string, parameter: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new EndpointParseError(`Can't read the ${parameter} file '${file}': ${why}`, { parameter, cause: err });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, each parsed, in file order. */
function certificatesIn(pem: Buffer, file: string, parameter: string): { pem: string; x509: crypto.X509Certificate }[] {
  const blocks = pem.toString("latin1").match(PEM_CERTIFICATE) ?? [];
  return blocks.map((block) => {
    try {
      return { pem: block, x509: new crypto.X509Certificate(block) };
    } catch (err) {
      throw new EndpointParseError(`The ${parameter} file '${file}' holds a certificate that can't be parsed.`, {
        parameter,
        cause: err,
      });
    }
  });
}

/** The private key of a PEM file (which may also hold certificates), re-encoded alone. */
function privateKeyIn(pem: Buffer, file: string, parameter: string): crypto.KeyObject {
  try {
    return crypto.createPrivateKey(pem);
  } catch (err) {
    throw new EndpointParseError(
      `The ${parameter} file '${file}' holds no usable PEM private key (an encrypted key isn't supported).`,
      { parameter, cause: err },
    );
  }
}

/**
 * A certificate and its key from files (endpoints._parseSSL / _privateCertFromPaths): the certificate is the first
 * one in `certFile`, the key comes from `keyFile`. They must match, or the error is reported now rather than at
 * the first handshake.
 */
function loadKeyPair(
  certFile: string,
  certParameter: string,
  keyFile: string,
  keyParameter: string,
): { cert: string; key: string } {
  const certs = certificatesIn(readNamedFile(certFile, certParameter), certFile, certParameter);
  const first = certs[0];
  if (first === undefined) {
    throw new EndpointParseError(`The ${certParameter} file '${certFile}' holds no PEM certificate.`, {
      parameter: certParameter,
    });
  }
  const key = privateKeyIn(readNamedFile(keyFile, keyParameter), keyFile, keyParameter);
  if (!first.x509.checkPrivateKey(key)) {
    throw new EndpointParseError(`The certificate in '${certFile}' doesn't match the private key in '${keyFile}'.`, {
      parameter: keyParameter,
    });
  }
  return { cert: first.pem, key: key.export({ type: "pkcs8", format: "pem" }).toString() };
}

/**
 * The CA certificates of every `*.pem` file in a directory (endpoints._loadCAsFromDir): files that can't be read
 * or parsed are skipped and duplicates dropped, as in Twisted. An unreadable directory is an error.
 */
function loadCAsFromDir(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new EndpointParseError(`Can't read the caCertsDir directory '${dir}': ${why}`, {
      parameter: "caCertsDir",
      cause: err,
    });
  }
  const byFingerprint = new Map<string, string>();
  for (const name of names.sort()) {
    if (path.extname(name).toLowerCase() !== ".pem") continue;
    let data: Buffer;
    try {
      data = fs.readFileSync(path.join(dir, name));
    } catch {
      continue; // Permission denied, a directory named *.pem...: Twisted doesn't care either.
    }
    const block = data.toString("latin1").match(PEM_CERTIFICATE)?.[0];
    if (block === undefined) continue;
    try {
      byFingerprint.set(new crypto.X509Certificate(block).fingerprint256, block);
    } catch {
      continue; // An invalid certificate: skipped, as in Twisted.
    }
  }
  return [...byFingerprint.values()];
}

/** Twisted's `sslmethod` names (OpenSSL.SSL constants) and Node's `secureProtocol` equivalents. */
const SSL_METHODS: Record<string, string> = {
  TLS_METHOD: "TLS_method",
  SSLv23_METHOD: "SSLv23_method",
  TLSv1_METHOD: "TLSv1_method",
  TLSv1_1_METHOD: "TLSv1_1_method",
  TLSv1_2_METHOD: "TLSv1_2_method",
};

// ---------------------------------------------------------------------------------------------------------------
// Binding parameters to a signature

/** What a type accepts: its parameters in positional order, and a usage line for error messages. */
interface Signature {
  /** "a tcp server endpoint" */
  readonly what: string;
  readonly params: readonly string[];
  /** How many of `params` may be given by position; all of them unless said. */
  readonly positional?: number;
  readonly usage: string;
}

/**
 * Python's argument binding, which Twisted's parsers rely on: positionals fill `params` in order, keywords by
 * name. Too many positionals, unknown names and a name given twice are errors that quote the usage line.
 */
function bindArguments(sig: Signature, args: readonly string[], kwargs: Record<string, string>): Map<string, string> {
  const positional = sig.positional ?? sig.params.length;
  if (args.length > positional) {
    const extra = args.slice(positional).join(":");
    throw new EndpointParseError(`Too many positional parameters for ${sig.what} ('${extra}'); usage: ${sig.usage}`);
  }
  const bound = new Map<string, string>();
  args.forEach((value, i) => bound.set(sig.params[i]!, value));
  for (const [key, value] of Object.entries(kwargs)) {
    if (!sig.params.includes(key)) {
      throw new EndpointParseError(
        `Unknown parameter '${key}' for ${sig.what}; known parameters: ${sig.params.join(", ")}.`,
        { parameter: key },
      );
    }
    if (bound.has(key)) {
      throw new EndpointParseError(`${key} is given twice, by position and as ${key}=; usage: ${sig.usage}`, {
        parameter: key,
      });
    }
    bound.set(key, value);
  }
  return bound;
}

function required(bound: Map<string, string>, name: string, sig: Signature): string {
  const value = bound.get(name);
  if (value === undefined) {
    throw new EndpointParseError(`Missing ${name} for ${sig.what}; usage: ${sig.usage}`, { parameter: name });
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Endpoint interfaces

/** Something to listen on (IStreamServerEndpoint). */
export interface IStreamServerEndpoint {
  /**
   * Listens with `factory`. Resolves with the port once it is bound (and the factory's doStart has run);
   * rejects with CannotListenError. The caller owns the port: `stopListening()` it.
   */
  listen(factory: IProtocolFactory): Promise<IListeningPort>;
}

/** A factory whose protocols are `P`: lets `connect()` resolve with the user's own protocol type. */
export interface ProtocolFactoryOf<P extends IProtocol> extends IProtocolFactory {
  buildProtocol(addr: Address): P | null;
}

/** Options of a client endpoint's `connect()`. */
export interface ConnectOptions {
  /**
   * Aborting it while connecting stops the attempt (`connector.stopConnecting()`) and rejects with
   * ConnectingCancelledError (Twisted's `Deferred.cancel()`). Once connected it has no effect.
   */
  signal?: AbortSignal;
}

/** Somewhere to connect to (IStreamClientEndpoint). */
export interface IStreamClientEndpoint {
  /**
   * Connects with a protocol from `factory`. Resolves with that protocol once its `connectionMade` has run;
   * rejects with the connector's reason (ConnectionRefusedError, TimeoutError, DNSLookupError, SSLError...),
   * with NoProtocol or the error `buildProtocol` threw, or with ConnectingCancelledError. The caller owns the
   * connection: close it through the protocol's transport.
   */
  connect<P extends IProtocol>(factory: ProtocolFactoryOf<P>, options?: ConnectOptions): Promise<P>;
}

// ---------------------------------------------------------------------------------------------------------------
// Server endpoints

/** Calls the reactor's listen method and waits for the bind; every failure becomes a CannotListenError. */
async function listenOn(start: () => IListeningPort, iface: string, port: number | string): Promise<IListeningPort> {
  const asCannotListen = (err: unknown) =>
    err instanceof CannotListenError ? err : new CannotListenError(iface, port, err);
  let listening: IListeningPort;
  try {
    listening = start();
  } catch (err) {
    throw asCannotListen(err);
  }
  try {
    await listening.listening;
  } catch (err) {
    throw asCannotListen(err);
  }
  return listening;
}

/** A TCP port on IPv4 (TCP4ServerEndpoint). `interface` "" means every IPv4 interface, as in Twisted. */
export class TCP4ServerEndpoint implements IStreamServerEndpoint {
  /** The address to bind. */
  readonly interface: string;

  constructor(
    readonly reactor: IReactorNet,
    /** 0 lets the system choose; read the choice from the port's `getHost()`. */
    readonly port: number,
    readonly backlog = 50,
    iface = "",
  ) {
    this.interface = iface;
  }

  /** See IStreamServerEndpoint.listen: `reactor.listenTCP(port, factory, { interface, backlog })`. */
  listen(factory: IProtocolFactory): Promise<IListeningPort> {
    return listenOn(
      () => this.reactor.listenTCP(this.port, factory, { interface: this.interface, backlog: this.backlog }),
      this.interface,
      this.port,
    );
  }
}

/** A TCP port on IPv6 (TCP6ServerEndpoint). `interface` "::" (the default) means every interface. */
export class TCP6ServerEndpoint extends TCP4ServerEndpoint {
  constructor(reactor: IReactorNet, port: number, backlog = 50, iface = "::") {
    super(reactor, port, backlog, iface);
  }
}

/** A TLS port on IPv4 (SSL4ServerEndpoint); `tlsOptions` carries at least `key` and `cert`. */
export class SSL4ServerEndpoint implements IStreamServerEndpoint {
  /** The address to bind; "" for every IPv4 interface. */
  readonly interface: string;

  constructor(
    readonly reactor: IReactorNet,
    readonly port: number,
    readonly tlsOptions: ServerTLSOptions,
    readonly backlog = 50,
    iface = "",
  ) {
    this.interface = iface;
  }

  /** See IStreamServerEndpoint.listen: `reactor.listenSSL(port, factory, tlsOptions, { interface, backlog })`. */
  listen(factory: IProtocolFactory): Promise<IListeningPort> {
    return listenOn(
      () =>
        this.reactor.listenSSL(this.port, factory, this.tlsOptions, {
          interface: this.interface,
          backlog: this.backlog,
        }),
      this.interface,
      this.port,
    );
  }
}

/**
 * A UNIX socket (UNIXServerEndpoint). `mode` is the socket file's mode. `wantPID` is Twisted's lock file next to
 * the socket: it is kept here, but the reactor's listenUNIX has no lock file yet, so it isn't acted on.
 */
export class UNIXServerEndpoint implements IStreamServerEndpoint {
  constructor(
    readonly reactor: IReactorNet,
    readonly address: string,
    readonly backlog = 50,
    readonly mode = 0o666,
    readonly wantPID = false,
  ) {}

  /** See IStreamServerEndpoint.listen: `reactor.listenUNIX(address, factory, { mode, backlog })`. */
  listen(factory: IProtocolFactory): Promise<IListeningPort> {
    return listenOn(
      () => this.reactor.listenUNIX(this.address, factory, { mode: this.mode, backlog: this.backlog }),
      "",
      this.address,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client endpoints

/**
 * Stands between the transport and the user's protocol (endpoints._WrappingProtocol): when the transport connects
 * it, it connects the user's protocol to the same transport and then settles the connect promise. Every later
 * event is passed through.
 */
class WrappingProtocol<P extends IProtocol> extends Protocol {
  constructor(
    readonly wrappedProtocol: P,
    private readonly onConnected: (p: P) => void,
    private readonly onConnectFailed: (err: unknown) => void,
  ) {
    super();
  }

  /**
   * If the user's makeConnection/connectionMade throws, Twisted leaves the Deferred pending forever; here the
   * promise rejects with that error, and it is rethrown so the transport drops the connection.
   */
  override connectionMade(): void {
    try {
      this.wrappedProtocol.makeConnection(this.transport);
    } catch (err) {
      this.onConnectFailed(err);
      throw err;
    }
    this.onConnected(this.wrappedProtocol);
  }

  override dataReceived(data: Bytes): void {
    this.wrappedProtocol.dataReceived(data);
  }

  override connectionLost(reason: Error): void {
    super.connectionLost(reason);
    this.wrappedProtocol.connectionLost(reason);
  }

  /**
   * A TLS handshake completed (an ssl: endpoint's, or after the protocol's `startTLS`): passed on to the user's
   * protocol if it listens (IHandshakeListener), as Twisted's _WrappingProtocol does.
   */
  handshakeCompleted(info: TLSInfo): void {
    const wrapped = this.wrappedProtocol;
    if (isHandshakeListener(wrapped)) wrapped.handshakeCompleted(info);
  }
}

/** The wrapper for a half-closeable protocol: it is half-closeable too, and passes the half-closes through. */
class HalfCloseableWrappingProtocol<P extends IHalfCloseableProtocol>
  extends WrappingProtocol<P>
  implements IHalfCloseableProtocol
{
  readConnectionLost(): void {
    this.wrappedProtocol.readConnectionLost();
  }

  writeConnectionLost(): void {
    this.wrappedProtocol.writeConnectionLost();
  }
}

/**
 * The ClientFactory an endpoint hands to the reactor (endpoints._WrappingFactory): builds the user's protocol
 * through the user's factory, wraps it, and settles `onConnection` exactly once: resolved with the user's protocol
 * after its connectionMade, rejected on clientConnectionFailed, on a null or throwing buildProtocol, or on cancel.
 * doStart/doStop are passed straight to the user's factory.
 */
class WrappingFactory<P extends IProtocol> extends ClientFactory {
  readonly onConnection: Promise<P>;
  private settled = false;
  private resolveConnection!: (p: P) => void;
  private rejectConnection!: (err: unknown) => void;

  constructor(private readonly wrappedFactory: ProtocolFactoryOf<P>) {
    super();
    this.onConnection = new Promise<P>((resolve, reject) => {
      this.resolveConnection = resolve;
      this.rejectConnection = reject;
    });
  }

  /** Settles `onConnection` with a success, unless it is settled already. */
  resolve(p: P): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveConnection(p);
  }

  /** Settles `onConnection` with a failure, unless it is settled already. */
  reject(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectConnection(err);
  }

  get isSettled(): boolean {
    return this.settled;
  }

  override doStart(): void {
    this.wrappedFactory.doStart();
  }

  override doStop(): void {
    this.wrappedFactory.doStop();
  }

  override buildProtocol(addr: Address): IProtocol | null {
    let p: P | null;
    try {
      p = this.wrappedFactory.buildProtocol(addr);
      if (p === null) throw new NoProtocol();
    } catch (err) {
      this.reject(err);
      return null;
    }
    const onConnected = (connected: P) => this.resolve(connected);
    const onFailed = (err: unknown) => this.reject(err);
    return isHalfCloseable(p)
      ? new HalfCloseableWrappingProtocol(p, onConnected, onFailed)
      : new WrappingProtocol(p, onConnected, onFailed);
  }

  override clientConnectionFailed(_connector: IConnector, reason: Error): void {
    this.reject(reason);
  }
}

/**
 * The common part of every client endpoint's `connect()`: wraps the factory, starts the reactor's connect, and
 * wires the abort signal to Twisted's canceller (reject with ConnectingCancelledError first, then
 * `stopConnecting()`, whose clientConnectionFailed(UserError) then finds the promise settled).
 */
function connectThrough<P extends IProtocol>(
  factory: ProtocolFactoryOf<P>,
  options: ConnectOptions | undefined,
  destination: () => Address,
  start: (wrapper: IProtocolFactory) => IConnector,
): Promise<P> {
  const signal = options?.signal;
  if (signal?.aborted) {
    return Promise.reject(new ConnectingCancelledError(destination(), { cause: signal.reason }));
  }
  const wrapper = new WrappingFactory(factory);
  let connector: IConnector;
  try {
    connector = start(wrapper);
  } catch (err) {
    return Promise.reject(err);
  }
  if (signal && !wrapper.isSettled) {
    const onAbort = () => {
      if (wrapper.isSettled) return;
      wrapper.reject(new ConnectingCancelledError(connector.getDestination(), { cause: signal.reason }));
      if (connector.state === "connecting") connector.stopConnecting();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const forget = () => signal.removeEventListener("abort", onAbort);
    wrapper.onConnection.then(forget, forget);
  }
  return wrapper.onConnection;
}

/** A TCP server to connect to over IPv4 or by name (TCP4ClientEndpoint). */
export class TCP4ClientEndpoint implements IStreamClientEndpoint {
  constructor(
    readonly reactor: IReactorNet,
    readonly host: string,
    readonly port: number,
    /** Seconds before the attempt fails with TimeoutError. */
    readonly timeout = 30,
    /** Local [host, port] to bind before connecting; port 0 picks any. */
    readonly bindAddress: readonly [string, number] | null = null,
  ) {}

  /** See IStreamClientEndpoint.connect: `reactor.connectTCP(host, port, wrapper, { timeout, bindAddress })`. */
  connect<P extends IProtocol>(factory: ProtocolFactoryOf<P>, options?: ConnectOptions): Promise<P> {
    return connectThrough(
      factory,
      options,
      () => tcpAddress(this.host, this.port),
      (wrapper) =>
        this.reactor.connectTCP(this.host, this.port, wrapper, {
          timeout: this.timeout,
          bindAddress: this.bindAddress,
        }),
    );
  }
}

/** A TLS server to connect to over IPv4 or by name (SSL4ClientEndpoint). */
export class SSL4ClientEndpoint implements IStreamClientEndpoint {
  constructor(
    readonly reactor: IReactorNet,
    readonly host: string,
    readonly port: number,
    /** node:tls options: verification, CAs, client certificate, servername. */
    readonly tlsOptions: ClientTLSOptions,
    readonly timeout = 30,
    readonly bindAddress: readonly [string, number] | null = null,
  ) {}

  /** See IStreamClientEndpoint.connect: `reactor.connectSSL(host, port, wrapper, tlsOptions, {...})`. */
  connect<P extends IProtocol>(factory: ProtocolFactoryOf<P>, options?: ConnectOptions): Promise<P> {
    return connectThrough(
      factory,
      options,
      () => tcpAddress(this.host, this.port),
      (wrapper) =>
        this.reactor.connectSSL(this.host, this.port, wrapper, this.tlsOptions, {
          timeout: this.timeout,
          bindAddress: this.bindAddress,
        }),
    );
  }
}

/**
 * A UNIX socket to connect to (UNIXClientEndpoint). `checkPID` is Twisted's check of the server's lock file: it is
 * kept, but the reactor's connectUNIX has no such check yet, so it isn't acted on.
 */
export class UNIXClientEndpoint implements IStreamClientEndpoint {
  constructor(
    readonly reactor: IReactorNet,
    readonly path: string,
    readonly timeout = 30,
    readonly checkPID = false,
  ) {}

  /** See IStreamClientEndpoint.connect: `reactor.connectUNIX(path, wrapper, { timeout })`. */
  connect<P extends IProtocol>(factory: ProtocolFactoryOf<P>, options?: ConnectOptions): Promise<P> {
    return connectThrough(
      factory,
      options,
      () => new UNIXAddress(this.path),
      (wrapper) => this.reactor.connectUNIX(this.path, wrapper, { timeout: this.timeout }),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// serverFromString

const TCP_SERVER: Signature = {
  what: "a tcp server endpoint",
  params: ["port", "interface", "backlog"],
  usage: "tcp:PORT[:interface=IP][:backlog=50]",
};
const TCP6_SERVER: Signature = {
  what: "a tcp6 server endpoint",
  params: ["port", "backlog", "interface"],
  usage: "tcp6:PORT[:interface=::][:backlog=50]",
};
const SSL_SERVER: Signature = {
  what: "an ssl server endpoint",
  params: ["port", "privateKey", "certKey", "sslmethod", "interface", "backlog", "extraCertChain", "dhParameters"],
  usage: "ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:extraCertChain=CHAIN.pem][:interface=IP][:backlog=50]",
};
const UNIX_SERVER: Signature = {
  what: "a unix server endpoint",
  params: ["address", "mode", "backlog", "lockfile"],
  usage: "unix:PATH[:mode=666][:backlog=50][:lockfile=1]",
};

function tcpServer(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): TCP4ServerEndpoint {
  const b = bindArguments(TCP_SERVER, args, kwargs);
  return new TCP4ServerEndpoint(
    reactor,
    parsePortNumber(required(b, "port", TCP_SERVER), { allowZero: true }),
    parseCount(b.get("backlog") ?? "50", "backlog"),
    b.get("interface") ?? "",
  );
}

function tcp6Server(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): TCP6ServerEndpoint {
  const b = bindArguments(TCP6_SERVER, args, kwargs);
  return new TCP6ServerEndpoint(
    reactor,
    parsePortNumber(required(b, "port", TCP6_SERVER), { allowZero: true }),
    parseCount(b.get("backlog") ?? "50", "backlog"),
    b.get("interface") ?? "::",
  );
}

/**
 * endpoints._parseSSL: the key from `privateKey` (default "server.pem"), the certificate from `certKey` (default:
 * the privateKey file, which then holds both), `extraCertChain` appended to the certificate, `dhParameters` passed
 * as Node's `dhparam`, `sslmethod` as Node's `secureProtocol`. Files are read now, as Twisted does.
 */
function sslServer(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): SSL4ServerEndpoint {
  const b = bindArguments(SSL_SERVER, args, kwargs);
  const port = parsePortNumber(required(b, "port", SSL_SERVER), { allowZero: true });
  const keyFile = b.get("privateKey") ?? "server.pem";
  const certFile = b.get("certKey") ?? keyFile;
  const pair = loadKeyPair(certFile, b.has("certKey") ? "certKey" : "privateKey", keyFile, "privateKey");
  const tlsOptions: ServerTLSOptions = { key: pair.key, cert: pair.cert };
  const chainFile = b.get("extraCertChain");
  if (chainFile !== undefined) {
    const chain = certificatesIn(readNamedFile(chainFile, "extraCertChain"), chainFile, "extraCertChain");
    if (chain.length === 0) {
      throw new EndpointParseError(
        `Specified chain file '${chainFile}' doesn't contain any valid certificates in PEM format.`,
        { parameter: "extraCertChain" },
      );
    }
    tlsOptions.cert = [pair.cert, ...chain.map((c) => c.pem)].join("\n");
  }
  const dhFile = b.get("dhParameters");
  if (dhFile !== undefined) tlsOptions.dhparam = readNamedFile(dhFile, "dhParameters");
  const method = b.get("sslmethod");
  if (method !== undefined) {
    const secureProtocol = SSL_METHODS[method];
    if (secureProtocol === undefined) {
      throw new EndpointParseError(`sslmethod must be one of ${Object.keys(SSL_METHODS).join(", ")}, got '${method}'`, {
        parameter: "sslmethod",
      });
    }
    tlsOptions.secureProtocol = secureProtocol;
  }
  return new SSL4ServerEndpoint(
    reactor,
    port,
    tlsOptions,
    parseCount(b.get("backlog") ?? "50", "backlog"),
    b.get("interface") ?? "",
  );
}

function unixServer(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): UNIXServerEndpoint {
  const b = bindArguments(UNIX_SERVER, args, kwargs);
  const address = required(b, "address", UNIX_SERVER);
  if (address === "") throw new EndpointParseError("The unix socket path is empty.", { parameter: "address" });
  return new UNIXServerEndpoint(
    reactor,
    address,
    parseCount(b.get("backlog") ?? "50", "backlog"),
    parseMode(b.get("mode") ?? "666"),
    parseFlag(b.get("lockfile") ?? "1", "lockfile"),
  );
}

type Parser<E> = (reactor: IReactorNet, args: string[], kwargs: Record<string, string>) => E;

const SERVER_PARSERS: Record<string, Parser<IStreamServerEndpoint>> = {
  tcp: tcpServer,
  tcp6: tcp6Server,
  ssl: sslServer,
  unix: unixServer,
};

function parserFor<E>(parsers: Record<string, Parser<E>>, type: string): Parser<E> {
  const name = type.toLowerCase();
  const parser = Object.hasOwn(parsers, name) ? parsers[name] : undefined;
  if (parser === undefined) throw new EndpointParseError(`Unknown endpoint type: '${name}'`);
  return parser;
}

/**
 * Makes a server endpoint from a description (endpoints.serverFromString), e.g. `tcp:80`,
 * `tcp:0:interface=127.0.0.1`, `tcp6:8080:interface=\:\:1`, `ssl:443:privateKey=key.pem:certKey=cert.pem`,
 * `unix:/var/run/finger:mode=660`. Nothing is bound until `listen()`. Throws EndpointParseError when the
 * description can't be used, including when a key or certificate file can't be read.
 *
 * Unlike Twisted, whose built-in server types are matched case-sensitively (so that "TCP:80" is reported as
 * "Unknown endpoint type: 'tcp'"), every type is case-insensitive here, for servers as for clients.
 */
export function serverFromString(reactor: IReactorNet, description: string): IStreamServerEndpoint {
  const { type, args, kwargs } = parseEndpointString(description);
  return parserFor(SERVER_PARSERS, type)(reactor, args, kwargs);
}

// ---------------------------------------------------------------------------------------------------------------
// clientFromString

const TCP_CLIENT_PARAMS = ["host", "port", "timeout", "bindAddress"];
const SSL_CLIENT_PARAMS = [...TCP_CLIENT_PARAMS, "hostname", "caCertsDir", "certKey", "privateKey"];

/** endpoints._parseClientTCP: `HOST:PORT`, or one of them by position and the other by name, or both by name. */
function tcpClientArguments(
  kind: "tcp" | "ssl",
  params: readonly string[],
  args: string[],
  kwargs: Record<string, string>,
): { b: Map<string, string>; host: string; port: number; timeout: number; bindAddress: [string, number] | null } {
  const usage = `${kind}:HOST:PORT or ${kind}:host=HOST:port=PORT`;
  const sig: Signature = { what: `a ${kind} client endpoint`, params, usage };
  const positional = args.length === 1 && Object.hasOwn(kwargs, "host") ? ["port"] : ["host", "port"];
  if (args.length > positional.length) {
    throw new EndpointParseError(`Too many positional parameters for ${sig.what}; usage: ${usage}`);
  }
  const b = new Map<string, string>();
  args.forEach((value, i) => b.set(positional[i]!, value));
  for (const [key, value] of bindArguments(sig, [], kwargs)) {
    if (b.has(key)) {
      throw new EndpointParseError(`${key} is given twice, by position and as ${key}=; usage: ${usage}`, {
        parameter: key,
      });
    }
    b.set(key, value);
  }
  const host = required(b, "host", sig);
  if (host === "") throw new EndpointParseError(`host is empty; usage: ${usage}`, { parameter: "host" });
  const port = parsePortNumber(required(b, "port", sig));
  const timeout = parseSeconds(b.get("timeout") ?? "30", "timeout");
  const bind = b.get("bindAddress");
  return { b, host, port, timeout, bindAddress: bind === undefined ? null : [bind, 0] };
}

function tcpClient(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): TCP4ClientEndpoint {
  const a = tcpClientArguments("tcp", TCP_CLIENT_PARAMS, args, kwargs);
  return new TCP4ClientEndpoint(reactor, a.host, a.port, a.timeout, a.bindAddress);
}

/**
 * endpoints._parseClientSSL: with `hostname`, the server's certificate is verified, for that name, against
 * `caCertsDir`'s CAs or else Node's default CAs (Twisted's optionsForClientTLS). Without it, as in Twisted's
 * CertificateOptions, there is no verification at all, unless `caCertsDir` is given: then the chain is verified
 * against it but no name is checked. `certKey` (and `privateKey`, defaulting to the certKey file) give a client
 * certificate.
 */
function sslClient(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): SSL4ClientEndpoint {
  const a = tcpClientArguments("ssl", SSL_CLIENT_PARAMS, args, kwargs);
  const hostname = a.b.get("hostname");
  const caDir = a.b.get("caCertsDir");
  const certFile = a.b.get("certKey");
  const keyFile = a.b.get("privateKey");
  const tlsOptions: ClientTLSOptions = {};
  if (caDir !== undefined) tlsOptions.ca = loadCAsFromDir(caDir);
  if (hostname !== undefined && net.isIP(hostname) !== 0) {
    // SNI can't carry an IP address (RFC 6066), so the name to check is given to the check itself.
    tlsOptions.rejectUnauthorized = true;
    tlsOptions.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(hostname, cert);
  } else if (hostname !== undefined) {
    tlsOptions.servername = hostname;
    tlsOptions.rejectUnauthorized = true;
  } else if (caDir !== undefined) {
    tlsOptions.rejectUnauthorized = true;
    tlsOptions.checkServerIdentity = () => undefined;
  } else {
    tlsOptions.rejectUnauthorized = false;
  }
  if (certFile !== undefined) {
    const pair = loadKeyPair(
      certFile,
      "certKey",
      keyFile ?? certFile,
      keyFile === undefined ? "certKey" : "privateKey",
    );
    tlsOptions.cert = pair.cert;
    tlsOptions.key = pair.key;
  } else if (keyFile !== undefined) {
    // Twisted silently ignores a privateKey without certKey; a client certificate needs both, so say so.
    throw new EndpointParseError("privateKey is given without certKey: a client certificate needs its certKey.", {
      parameter: "privateKey",
    });
  }
  return new SSL4ClientEndpoint(reactor, a.host, a.port, tlsOptions, a.timeout, a.bindAddress);
}

const UNIX_CLIENT: Signature = {
  what: "a unix client endpoint",
  params: ["path", "timeout", "checkPID", "lockfile"],
  positional: 1,
  usage: "unix:PATH[:timeout=30][:checkPID=0]",
};

/** endpoints._parseClientUNIX: the path by position or as `path=`; `lockfile` is another name for checkPID. */
function unixClient(reactor: IReactorNet, args: string[], kwargs: Record<string, string>): UNIXClientEndpoint {
  const b = bindArguments(UNIX_CLIENT, args, kwargs);
  const socketPath = required(b, "path", UNIX_CLIENT);
  if (socketPath === "") throw new EndpointParseError("The unix socket path is empty.", { parameter: "path" });
  const lockfile = b.get("lockfile");
  const checkPID = b.get("checkPID");
  return new UNIXClientEndpoint(
    reactor,
    socketPath,
    parseSeconds(b.get("timeout") ?? "30", "timeout"),
    (checkPID !== undefined && parseFlag(checkPID, "checkPID")) ||
      (lockfile !== undefined && parseFlag(lockfile, "lockfile")),
  );
}

const CLIENT_PARSERS: Record<string, Parser<IStreamClientEndpoint>> = {
  tcp: tcpClient,
  ssl: sslClient,
  unix: unixClient,
};

/**
 * Makes a client endpoint from a description (endpoints.clientFromString), e.g. `tcp:example.com:80`,
 * `tcp:host=example.com:port=1234:timeout=7`, `ssl:example.com:443:hostname=example.com`, `unix:/var/foo/bar`.
 * The type is case-insensitive. Nothing connects until `connect()`. Throws EndpointParseError when the
 * description can't be used; Twisted has no tcp6 client type, and neither is there one here.
 */
export function clientFromString(reactor: IReactorNet, description: string): IStreamClientEndpoint {
  const { type, args, kwargs } = parseEndpointString(description);
  return parserFor(CLIENT_PARSERS, type)(reactor, args, kwargs);
}
