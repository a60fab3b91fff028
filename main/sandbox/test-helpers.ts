/**
 * Helpers for the sandbox's tests and benchmark: compile a protocol as the workspace compiler will, serve it
 * sandboxed on 127.0.0.1 the way the engine will (a core ListeningPort whose factory attaches each connection,
 * wrapped in a byte-counting stand-in for the recording wrapper), and talk to it from a node:net peer.
 */
import * as net from "node:net";
import { build } from "esbuild";
import type { Address } from "../../core/address.ts";
import type { Bytes, IHalfCloseableProtocol, ITransport, TLSInfo } from "../../core/interfaces.ts";
import { Factory } from "../../core/protocol.ts";
import type { ListeningPort } from "../../core/tcp.ts";
import { listenLocal } from "../../tests/helpers/net.ts";
import type { SandboxGroup } from "./host.ts";
import type { SandboxErrorInfo, SandboxLogEvent, SourceMapInput } from "./messages.ts";
import type { SandboxedProtocol, SandboxEvents } from "./sandboxed-protocol.ts";

/** A compiled protocol module, as group.load() takes it. */
export interface Compiled {
  code: string;
  sourceMap: SourceMapInput;
}

/**
 * Compiles TypeScript protocol source to a CommonJS bundle with "wirescope" external and an external source map,
 * as main/workspace/compiler.ts does. `file` names the source in the map (and so in mapped stacks).
 */
export async function compile(source: string, file = "proto.ts"): Promise<Compiled> {
  const result = await build({
    stdin: { contents: source, sourcefile: file, loader: "ts" },
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    external: ["wirescope"],
    sourcemap: "external",
    keepNames: true,
    outfile: "out.js",
    write: false,
    logLevel: "silent",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (!js || !map) throw new Error("esbuild gave no code or no source map");
  return { code: js.text, sourceMap: JSON.parse(map.text) as SourceMapInput };
}

/** What the engine heard about one connection. */
export class EventLog implements SandboxEvents {
  readonly logs: SandboxLogEvent[] = [];
  readonly errors: SandboxErrorInfo[] = [];
  readonly halted: string[] = [];
  /** performance.now() of each onHalted. */
  readonly haltedAt: number[] = [];
  resumed = 0;
  reloaded = 0;

  onLog(event: SandboxLogEvent): void {
    this.logs.push(event);
  }
  onError(info: SandboxErrorInfo): void {
    this.errors.push(info);
  }
  onHalted(reason: string): void {
    this.halted.push(reason);
    this.haltedAt.push(performance.now());
  }
  onResumed(): void {
    this.resumed += 1;
  }
  onReloaded(): void {
    this.reloaded += 1;
  }
}

/**
 * A stand-in for the engine's recording wrapper (not main/recording's Recorder), reduced to counting: sees every
 * byte the real transport delivers before the sandboxed protocol does, and the loss. The sandboxed protocol's
 * transport is the core's Connection itself, so its `startTLS` options are the core's (a server's cert and key);
 * a completed handshake is passed on as the engine passes it (TLSDetails, from Wirescope's side: the server).
 */
export class CountingWrapper implements IHalfCloseableProtocol {
  bytesIn = 0;
  lost: Error | null = null;
  transport: ITransport | null = null;

  constructor(
    readonly inner: SandboxedProtocol,
    readonly events: EventLog,
  ) {}

  makeConnection(transport: ITransport): void {
    this.transport = transport;
    this.inner.makeConnection(transport);
  }
  dataReceived(data: Bytes): void {
    this.bytesIn += data.byteLength;
    this.inner.dataReceived(data);
  }
  connectionLost(reason: Error): void {
    this.lost = reason;
    this.inner.connectionLost(reason);
  }
  readConnectionLost(): void {
    this.inner.readConnectionLost();
  }
  writeConnectionLost(): void {
    this.inner.writeConnectionLost();
  }
  handshakeCompleted(info: TLSInfo): void {
    const { version, cipher, alpnProtocol: alpn, servername: sni } = info;
    const details = { version, cipher, alpn, sni, peerCertificate: null, localCertificate: null, verified: true };
    this.inner.handshakeCompleted({ side: "server", ...details });
  }
}

/** A listener on 127.0.0.1 whose connections run `moduleKey` in `group`, each wrapped in a CountingWrapper. */
export async function serveSandboxed(
  group: SandboxGroup,
  moduleKey: string,
  exportName?: string,
): Promise<{ port: ListeningPort; portNumber: number; recorders: CountingWrapper[] }> {
  const recorders: CountingWrapper[] = [];
  const factory = new Factory();
  factory.buildProtocol = (_addr: Address) => {
    const events = new EventLog();
    const options = exportName === undefined ? { moduleKey } : { moduleKey, exportName };
    const recorder = new CountingWrapper(group.attach(options, events), events);
    recorders.push(recorder);
    return recorder;
  };
  const { port, portNumber } = await listenLocal(factory);
  return { port, portNumber, recorders };
}

/** A node:net client that collects what it receives, as bytes and as CRLF lines. */
export class Peer {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;
  private readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ host: "127.0.0.1", port });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
    });
    this.socket.on("close", () => {
      this.closed = true;
    });
  }

  /** Resolves once connected. */
  ready(): Promise<void> {
    return this.connected;
  }

  /** The CRLF-terminated lines received so far. */
  get lines(): string[] {
    const text = this.received.toString("latin1");
    const parts = text.split("\r\n");
    parts.pop();
    return parts;
  }

  /** Sends `text` as latin1 (one byte per character). */
  send(text: string): void {
    this.socket.write(Buffer.from(text, "latin1"));
  }

  close(): void {
    this.socket.destroy();
  }
}
