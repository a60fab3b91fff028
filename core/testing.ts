/**
 * Test doubles for unit-testing protocols without sockets (src/twisted/internet/testing.py).
 *
 *     const proto = new MyProtocol();
 *     const t = new StringTransport();
 *     proto.makeConnection(t);
 *     proto.dataReceived(Buffer.from("PING\r\n"));
 *     expect(t.value().toString()).toBe("+PONG\r\n");
 *
 * Exported from the core because users test their own protocols with them.
 */
import { BaseTCPTransport } from "./abstract.ts";
import { IPv4Address, UNIXAddress, tcpAddress, type Address } from "./address.ts";
import { ConnectionDone } from "./errors.ts";
import type {
  Bytes,
  ClientTLSOptions,
  IReactorNet,
  ListenUNIXOptions,
  ServerTLSOptions,
  ConnectTCPOptions,
  IConnector,
  IListeningPort,
  IProtocol,
  IProtocolFactory,
  ListenTCPOptions,
} from "./interfaces.ts";
import { Clock } from "./task.ts";

export { Clock, LoopingCall } from "./task.ts";
export { checkBytes } from "./bytes.ts";

/**
 * Every way a stream can reach dataReceived, for framing tests: whole, in 1..9-byte packets (1 is byte by byte), and
 * split in two at every point. A string is encoded with `encoding`.
 */
export function chunkings(
  input: string | Uint8Array,
  encoding: BufferEncoding = "latin1",
): [way: string, chunks: Buffer[]][] {
  const data = typeof input === "string" ? Buffer.from(input, encoding) : Buffer.from(input);
  const ways: [string, Buffer[]][] = [["one chunk", [data]]];
  for (let size = 1; size <= 9; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
    ways.push([`${size}-byte chunks`, chunks]);
  }
  for (let i = 1; i < data.length; i++) ways.push([`split at ${i}`, [data.subarray(0, i), data.subarray(i)]]);
  return ways;
}

/**
 * A transport that keeps everything written in memory (twisted.internet.testing.StringTransport).
 * `value()` is all bytes written so far; `disconnecting` turns true on `loseConnection()`; nothing is delivered
 * back to the protocol. Writes of non-bytes throw TypeError, as on a real transport; unlike a real transport, writes
 * after `loseConnection()` or `loseWriteConnection()` are kept too, as in Twisted. A producer is kept (`producer`,
 * `streaming`) and never called: the test drives it.
 */
export class StringTransport extends BaseTCPTransport {
  /** Set by `abortConnection()`. */
  aborted = false;
  /** Set by `loseWriteConnection()`. */
  writeDisconnected = false;
  /** "producing", "paused" or "stopped": what the protocol asked of this transport as a producer. */
  producerState: "producing" | "paused" | "stopped" = "producing";
  private chunks: Buffer[] = [];

  constructor(hostAddress?: Address, peerAddress?: Address) {
    super(
      hostAddress ?? new IPv4Address("TCP", "10.0.0.1", 12345),
      peerAddress ?? new IPv4Address("TCP", "192.168.1.1", 54321),
    );
  }

  /** Whether the registered producer is a streaming one; null while none is registered. */
  get streaming(): boolean | null {
    return this.producer === null ? null : this.streamingProducer;
  }

  /** Every byte written since creation or the last `clear()`. */
  value(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Forgets what was written. */
  clear(): void {
    this.chunks = [];
  }

  protected writeData(data: Bytes): void {
    this.chunks.push(Buffer.from(data));
  }

  loseConnection(): void {
    this.disconnecting = true;
  }

  abortConnection(): void {
    this.aborted = true;
    this.loseConnection();
  }

  loseWriteConnection(): void {
    this.writeDisconnected = true;
  }

  /** Throws unless a producer is registered, as Twisted's StringTransport does. */
  override unregisterProducer(): void {
    if (this.producer === null) throw new Error("Cannot unregister a producer unless one is registered");
    super.unregisterProducer();
  }

  private checkState(): void {
    if (this.disconnecting) throw new Error("Cannot resume producing after loseConnection");
    if (this.producerState === "stopped") throw new Error("Cannot resume a stopped producer");
  }

  override pauseProducing(): void {
    this.checkState();
    this.producerState = "paused";
  }

  override resumeProducing(): void {
    this.checkState();
    this.producerState = "producing";
  }

  override stopProducing(): void {
    this.producerState = "stopped";
  }
}

/**
 * A StringTransport whose `loseConnection()` delivers `connectionLost(ConnectionDone)` to `protocol` at once
 * (twisted.internet.testing.StringTransportWithDisconnection). Set `protocol` before use.
 */
export class StringTransportWithDisconnection extends StringTransport {
  protocol: IProtocol | null = null;
  private lost = false;

  override loseConnection(): void {
    if (this.disconnecting) return;
    this.disconnecting = true;
    if (this.protocol && !this.lost) {
      this.lost = true;
      this.protocol.connectionLost(new ConnectionDone());
    }
  }
}

/** Makes a protocol from a factory and connects it to a fresh StringTransport. Returns both. */
export function connectedProtocol<P extends IProtocol>(
  factory: IProtocolFactory,
  transport: StringTransport = new StringTransport(),
): { protocol: P; transport: StringTransport } {
  const protocol = factory.buildProtocol(transport.getPeer()) as P | null;
  if (protocol === null) throw new Error("The factory refused the connection (buildProtocol returned null)");
  protocol.makeConnection(transport);
  return { protocol, transport };
}

/** A connect call recorded by MemoryReactor. */
export interface RecordedClient {
  host: string;
  port: number;
  factory: IProtocolFactory;
  timeout: number;
  bindAddress: readonly [string, number] | null;
  tls: boolean;
  connector: MemoryConnector;
}

/** A listen call recorded by MemoryReactor. */
export interface RecordedServer {
  port: number;
  factory: IProtocolFactory;
  backlog: number;
  interface: string;
  tls: boolean;
  listeningPort: MemoryListeningPort;
}

/** A connector that never connects; MemoryReactor returns it. */
export class MemoryConnector implements IConnector {
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  connectCount = 0;
  constructor(private readonly destination: Address) {}
  connect(): void {
    this.state = "connecting";
    this.connectCount += 1;
  }
  stopConnecting(): void {
    this.state = "disconnected";
  }
  disconnect(): void {
    this.state = "disconnected";
  }
  getDestination(): Address {
    return this.destination;
  }
}

/** A listening port that accepts nothing; MemoryReactor returns it. */
export class MemoryListeningPort implements IListeningPort {
  readonly listening = Promise.resolve();
  stopped = false;
  constructor(
    private readonly address: Address,
    private readonly factory: IProtocolFactory,
  ) {}
  startListening(): void {}
  stopListening(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.factory.doStop();
    }
    return Promise.resolve();
  }
  getHost(): Address {
    return this.address;
  }
}

/**
 * A reactor that records connect and listen calls instead of making them, and keeps time as a Clock
 * (twisted.internet.testing.MemoryReactorClock). Tests assert on `tcpClients` / `tcpServers` and drive the
 * factories by hand.
 */
export class MemoryReactor extends Clock implements IReactorNet {
  readonly tcpClients: RecordedClient[] = [];
  readonly tcpServers: RecordedServer[] = [];
  readonly unixClients: { path: string; factory: IProtocolFactory; timeout: number }[] = [];
  readonly unixServers: { path: string; factory: IProtocolFactory; mode: number }[] = [];

  connectTCP(host: string, port: number, factory: IProtocolFactory, options: ConnectTCPOptions = {}): MemoryConnector {
    return this.recordClient(host, port, factory, options, false);
  }

  connectSSL(
    host: string,
    port: number,
    factory: IProtocolFactory,
    _tlsOptions: ClientTLSOptions = {},
    options: ConnectTCPOptions = {},
  ): MemoryConnector {
    return this.recordClient(host, port, factory, options, true);
  }

  listenTCP(port: number, factory: IProtocolFactory, options: ListenTCPOptions = {}): MemoryListeningPort {
    return this.recordServer(port, factory, options, false);
  }

  listenSSL(
    port: number,
    factory: IProtocolFactory,
    _tlsOptions: ServerTLSOptions = {},
    options: ListenTCPOptions = {},
  ): MemoryListeningPort {
    return this.recordServer(port, factory, options, true);
  }

  connectUNIX(path: string, factory: IProtocolFactory, options: { timeout?: number } = {}): MemoryConnector {
    this.unixClients.push({ path, factory, timeout: options.timeout ?? 30 });
    const connector = new MemoryConnector(new UNIXAddress(path));
    connector.connect();
    return connector;
  }

  listenUNIX(path: string, factory: IProtocolFactory, options: ListenUNIXOptions = {}): MemoryListeningPort {
    this.unixServers.push({ path, factory, mode: options.mode ?? 0o666 });
    factory.doStart();
    return new MemoryListeningPort(new UNIXAddress(path), factory);
  }

  private recordClient(
    host: string,
    port: number,
    factory: IProtocolFactory,
    options: ConnectTCPOptions,
    tls: boolean,
  ): MemoryConnector {
    // An IPv6 host gets an IPv6Address, as in Twisted's MemoryReactor.connectTCP.
    const connector = new MemoryConnector(tcpAddress(host, port));
    connector.connect();
    this.tcpClients.push({
      host,
      port,
      factory,
      timeout: options.timeout ?? 30,
      bindAddress: options.bindAddress ?? null,
      tls,
      connector,
    });
    return connector;
  }

  private recordServer(port: number, factory: IProtocolFactory, options: ListenTCPOptions, tls: boolean) {
    const iface = options.interface ?? "";
    const listeningPort = new MemoryListeningPort(tcpAddress(iface || "0.0.0.0", port), factory);
    factory.doStart();
    this.tcpServers.push({ port, factory, backlog: options.backlog ?? 50, interface: iface, tls, listeningPort });
    return listeningPort;
  }
}
