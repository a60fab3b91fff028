/**
 * startTLS on the core's TCP Connection, over real sockets on 127.0.0.1 with the test CA in tests/fixtures/tls.
 * Ported from Twisted: src/twisted/test/test_ssl.py (TLSTests, SpammyTLSTests, ConnectionLostTests) and
 * src/twisted/protocols/test/test_tls.py (write before the handshake, loseConnection during it, producers).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import type { PeerCertificate } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, listenLocal, waitFor } from "../tests/helpers/net.ts";
import { CannotStartTLSError, ConnectionAborted, ConnectionDone, SSLError } from "./errors.ts";
import {
  isTLSTransport,
  type Bytes,
  type IConnector,
  type IPullProducer,
  type IPushProducer,
  type ITLSTransport,
  type TLSInfo,
  type TLSOptions,
} from "./interfaces.ts";
import { ClientFactory, Factory, Protocol } from "./protocol.ts";
import { LineReceiver } from "./protocols/basic.ts";
import { reactor } from "./reactor.ts";

const dir = path.join(import.meta.dirname, "../tests/fixtures/tls");
const read = (name: string) => fs.readFileSync(path.join(dir, name));
const serverTLS = { key: read("server.key"), cert: read("server.crt") };
const clientTLS = { ca: read("ca.crt"), servername: "localhost" };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const text = (b: Bytes) => Buffer.from(b).toString();

function tlsOf(p: Protocol): ITLSTransport {
  const t = p.transport;
  if (!isTLSTransport(t)) throw new Error("not a TLS transport");
  return t;
}

/** A protocol that records what it received, its handshake and its loss. */
class Recorder extends Protocol {
  got = "";
  handshake: TLSInfo | null = null;
  readonly lost = deferred<Error>();
  handshakeCompleted(info: TLSInfo): void {
    this.handshake = info;
  }
  override dataReceived(data: Bytes): void {
    this.got += text(data);
  }
  override connectionLost(reason: Error): void {
    this.lost.resolve(reason);
  }
}

/** A factory whose one protocol is `p`. */
function serving(p: Protocol): Factory {
  const f = new Factory();
  f.buildProtocol = () => p;
  return f;
}

/** Runs `server` behind a TCP listener on 127.0.0.1 and connects `client` to it. */
async function connectPair(client: Protocol, server: Protocol): Promise<void> {
  const { port, portNumber } = await listenLocal(serving(server));
  cleanups.push(() => port.stopListening());
  const f = new ClientFactory();
  f.buildProtocol = () => client;
  f.clientConnectionFailed = (_c: IConnector, reason: Error) => {
    throw reason;
  };
  reactor.connectTCP("127.0.0.1", portNumber, f);
  cleanups.push(() => {
    client.transport?.abortConnection();
    server.transport?.abortConnection();
  });
}

const PRETEXT = ["first line", "last thing before tls starts", "STARTTLS"];
const POSTTEXT = ["first thing after tls started", "last thing ever"];

/** test_ssl.py's UnintelligentProtocol: lines in clear, STARTTLS; on READY, TLS, more lines, and the close. */
class Unintelligent extends LineReceiver {
  readonly lost = deferred<Error>();
  clearLines: string[] = [];
  handshake: TLSInfo | null = null;
  constructor(private readonly tlsOptions: TLSOptions) {
    super();
  }
  override connectionMade(): void {
    for (const l of PRETEXT) this.sendLine(Buffer.from(l));
  }
  override lineReceived(line: Bytes): void {
    if (text(line) !== "READY") {
      this.clearLines.push(text(line));
      return;
    }
    tlsOf(this).startTLS(this.tlsOptions);
    for (const l of POSTTEXT) this.sendLine(Buffer.from(l));
    this.transport.loseConnection(); // during the handshake: everything written is still delivered, then the close
  }
  handshakeCompleted(info: TLSInfo): void {
    this.handshake = info;
  }
  override connectionLost(reason: Error): void {
    this.lost.resolve(reason);
  }
}

/** test_ssl.py's LineCollector: on STARTTLS, (lots of clear lines,) READY, then TLS or raw mode. */
class LineCollector extends LineReceiver {
  readonly lost = deferred<Error>();
  lines: string[] = [];
  raw = Buffer.alloc(0);
  constructor(
    private readonly doTLS: boolean,
    private readonly fillBuffer: boolean,
  ) {
    super();
  }
  override lineReceived(line: Bytes): void {
    this.lines.push(text(line));
    if (text(line) !== "STARTTLS") return;
    if (this.fillBuffer) for (let i = 0; i < 500; i++) this.sendLine(Buffer.alloc(1000, "X"));
    this.sendLine(Buffer.from("READY"));
    if (this.doTLS) tlsOf(this).startTLS(serverTLS);
    else this.setRawMode();
  }
  override rawDataReceived(data: Bytes): void {
    this.raw = Buffer.concat([this.raw, data]);
    this.transport.loseConnection();
  }
  override connectionLost(reason: Error): void {
    this.lost.resolve(reason);
  }
}

describe("startTLS (test_ssl.py TLSTests)", () => {
  for (const fillBuffer of [false, true]) {
    const spammy = fillBuffer ? " with 500 kB of clear bytes still queued (SpammyTLSTests)" : "";
    it(`the server gets the lines from before and after startTLS on both sides${spammy}`, async () => {
      const client = new Unintelligent(clientTLS);
      const server = new LineCollector(true, fillBuffer);
      await connectPair(client, server);
      expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
      expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
      expect(server.lines).toEqual([...PRETEXT, ...POSTTEXT]);
      expect(client.clearLines).toEqual(fillBuffer ? Array<string>(500).fill("X".repeat(1000)) : []);
      expect(client.handshake).toMatchObject({ servername: "localhost" });
      expect(client.handshake?.version).toMatch(/^TLSv1\.[23]$/);
    });
  }

  it("bytes written after startTLS are encrypted: a peer that doesn't start TLS reads no plaintext (test_unTLS)", async () => {
    const client = new Unintelligent(clientTLS);
    const server = new LineCollector(false, false);
    await connectPair(client, server);
    await server.lost.promise;
    await client.lost.promise;
    expect(server.lines).toEqual(PRETEXT);
    expect(server.raw.length).toBeGreaterThan(0);
    expect(server.raw[0]).toBe(0x16); // a TLS handshake record: the ClientHello
    expect(server.raw.toString("latin1")).not.toContain("first thing after tls started");
  });
});

/** A Recorder that starts TLS when its connection is made and writes `greeting` right after (before the handshake). */
class StartsAtOnce extends Recorder {
  constructor(
    private readonly tlsOptions: TLSOptions,
    private readonly greeting: string,
  ) {
    super();
  }
  override connectionMade(): void {
    tlsOf(this).startTLS(this.tlsOptions);
    if (this.greeting) this.transport.write(Buffer.from(this.greeting));
  }
}

describe("startTLS over the handshake (test_tls.py)", () => {
  it("writes before the handshake reach the peer encrypted, both ways, and handshakeCompleted tells both sides", async () => {
    const client = new StartsAtOnce({ ...clientTLS, ALPNProtocols: ["wirescope/1"] }, "from the client");
    const server = new StartsAtOnce({ ...serverTLS, ALPNProtocols: ["wirescope/1"] }, "from the server");
    await connectPair(client, server);
    await waitFor(() => client.got === "from the server" && server.got === "from the client", "both greetings");
    expect(client.handshake).toMatchObject({ alpnProtocol: "wirescope/1", servername: "localhost" });
    expect(server.handshake).toMatchObject({ alpnProtocol: "wirescope/1", servername: "localhost" });
    expect(tlsOf(client).getPeerCertificate()?.subject.CN).toBe("localhost");
    expect(tlsOf(server).getPeerCertificate()).toBeNull(); // the client sent no certificate
    client.transport.loseConnection();
    expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
  });

  it("without a servername, checks the certificate against the peer's address, and sends no SNI", async () => {
    const checked: string[] = [];
    const checkServerIdentity = (name: string, cert: PeerCertificate) => {
      checked.push(name);
      return tls.checkServerIdentity(name, cert);
    };
    const client = new StartsAtOnce({ ca: read("ca.crt"), checkServerIdentity }, "by address");
    const server = new StartsAtOnce(serverTLS, "");
    await connectPair(client, server);
    await waitFor(() => server.got === "by address", "the plaintext");
    expect(checked).toEqual(["127.0.0.1"]);
    expect(server.handshake?.servername).toBeNull();
  });

  it("answers getPeerCertificate and getTLSInfo with null before the handshake and without TLS", async () => {
    const client = new Recorder();
    const server = new Recorder();
    await connectPair(client, server);
    await waitFor(() => client.connected && server.connected, "the connection");
    expect(tlsOf(client).getTLSInfo()).toBeNull();
    tlsOf(client).startTLS(clientTLS);
    expect(tlsOf(client).getPeerCertificate()).toBeNull();
    expect(tlsOf(client).getTLSInfo()).toBeNull();
  });

  it("bytes Node read while reading was paused go to TLS, not to the protocol in clear", async () => {
    class PausedServer extends Recorder {
      override connectionMade(): void {
        this.transport.pauseProducing();
      }
    }
    const client = new StartsAtOnce(clientTLS, "secret");
    const server = new PausedServer();
    await connectPair(client, server);
    const socket = () => (server.transport as unknown as { socket: { readableLength: number } }).socket;
    await waitFor(() => server.connected && socket().readableLength > 0, "the ClientHello read while paused");
    tlsOf(server).startTLS(serverTLS);
    server.transport.resumeProducing();
    await waitFor(() => server.got === "secret", "the plaintext");
    expect(server.handshake).not.toBeNull();
  });

  it("a transport paused before startTLS stays paused over TLS: nothing is delivered until resumeProducing", async () => {
    class PausedServer extends StartsAtOnce {
      override connectionMade(): void {
        this.transport.pauseProducing();
        super.connectionMade();
      }
    }
    const client = new StartsAtOnce(clientTLS, "secret");
    const server = new PausedServer(serverTLS, "");
    await connectPair(client, server);
    await waitFor(() => client.handshake !== null, "the client's handshake");
    await new Promise((r) => setTimeout(r, 100));
    expect(server.got).toBe("");
    server.transport.resumeProducing();
    await waitFor(() => server.got === "secret", "the plaintext");
  });

  it("loseConnection right after startTLS still delivers what was written, then closes cleanly", async () => {
    class WriteAndClose extends StartsAtOnce {
      override connectionMade(): void {
        super.connectionMade();
        this.transport.loseConnection();
      }
    }
    const client = new WriteAndClose(clientTLS, "last words");
    const server = new StartsAtOnce(serverTLS, "");
    await connectPair(client, server);
    expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(server.got).toBe("last words");
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
  });

  it("abortConnection over TLS ends the connection at once: ConnectionAborted, and what was queued is dropped", async () => {
    const BIG = 32 * 1024 * 1024;
    class Counting extends StartsAtOnce {
      bytes = 0;
      override dataReceived(data: Bytes): void {
        this.bytes += data.byteLength;
      }
    }
    const client = new StartsAtOnce(clientTLS, "");
    const server = new Counting(serverTLS, "");
    await connectPair(client, server);
    await waitFor(() => client.handshake !== null && server.handshake !== null, "the handshake");
    client.transport.write(Buffer.alloc(BIG));
    client.transport.abortConnection();
    expect(await client.lost.promise).toBeInstanceOf(ConnectionAborted);
    await server.lost.promise;
    expect(server.bytes).toBeLessThan(BIG);
  });

  it("half-close over TLS: the peer reads our end and can still answer", async () => {
    class HalfCloser extends StartsAtOnce {
      readLost = false;
      readConnectionLost(): void {
        this.readLost = true;
        this.transport.write(Buffer.from("answer after your end"));
        this.transport.loseConnection();
      }
      writeConnectionLost(): void {}
    }
    const client = new HalfCloser(clientTLS, "question");
    const server = new HalfCloser(serverTLS, "");
    await connectPair(client, server);
    await waitFor(() => client.handshake !== null, "the handshake");
    client.transport.loseWriteConnection();
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(server.readLost).toBe(true);
    expect(server.got).toBe("question");
    expect(client.got).toBe("answer after your end");
  });

  it("a streaming producer is paused while TLS can't take more and resumed on drain; every byte arrives", async () => {
    const CHUNK = Buffer.alloc(64 * 1024, "p");
    const TOTAL = 64; // chunks: 4 MiB, far past the transport's buffer
    class Producing extends StartsAtOnce implements IPushProducer {
      sent = 0;
      pauses = 0;
      private paused = false;
      override handshakeCompleted(info: TLSInfo): void {
        super.handshakeCompleted(info);
        this.transport.registerProducer(this, true);
        this.produce();
      }
      private produce(): void {
        while (!this.paused && this.sent < TOTAL) {
          this.sent++;
          this.transport.write(CHUNK);
        }
        if (this.sent === TOTAL) {
          this.transport.unregisterProducer();
          this.transport.loseConnection();
        }
      }
      pauseProducing(): void {
        this.paused = true;
        this.pauses++;
      }
      resumeProducing(): void {
        this.paused = false;
        setImmediate(() => this.produce());
      }
      stopProducing(): void {}
    }
    class Counting extends StartsAtOnce {
      bytes = 0;
      override dataReceived(data: Bytes): void {
        this.bytes += data.byteLength;
      }
    }
    const client = new Producing(clientTLS, "");
    const server = new Counting(serverTLS, "");
    await connectPair(client, server);
    expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(server.bytes).toBe(TOTAL * CHUNK.length);
    expect(client.pauses).toBeGreaterThan(0);
  });
});

describe("producers over TLS (test_tls.py TLSProducerTests)", () => {
  /** A server side that counts the plaintext it gets. */
  class Counting extends StartsAtOnce {
    bytes = 0;
    constructor() {
      super(serverTLS, "");
    }
    override dataReceived(data: Bytes): void {
      this.bytes += data.byteLength;
    }
  }

  it("a pull producer is asked for more as TLS takes it, until it unregisters; every byte arrives", async () => {
    const CHUNK = Buffer.alloc(64 * 1024, "q");
    const TOTAL = 64;
    class Pulling extends StartsAtOnce implements IPullProducer {
      sent = 0;
      override handshakeCompleted(info: TLSInfo): void {
        super.handshakeCompleted(info);
        this.transport.registerProducer(this, false);
      }
      resumeProducing(): void {
        if (this.sent === TOTAL) return;
        this.sent++;
        this.transport.write(CHUNK);
        if (this.sent === TOTAL) {
          this.transport.unregisterProducer();
          this.transport.loseConnection();
        }
      }
      stopProducing(): void {}
    }
    const client = new Pulling(clientTLS, "");
    const server = new Counting();
    await connectPair(client, server);
    expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(server.bytes).toBe(TOTAL * CHUNK.length);
  });

  it("loseConnection with a streaming producer registered closes cleanly and stops the producer", async () => {
    class WithProducer extends StartsAtOnce implements IPushProducer {
      stopped = false;
      override handshakeCompleted(info: TLSInfo): void {
        super.handshakeCompleted(info);
        this.transport.registerProducer(this, true);
        this.transport.write(Buffer.from("produced"));
        this.transport.loseConnection();
      }
      pauseProducing(): void {}
      resumeProducing(): void {}
      stopProducing(): void {
        this.stopped = true;
      }
    }
    const client = new WithProducer(clientTLS, "");
    const server = new Counting();
    await connectPair(client, server);
    expect(await server.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(server.bytes).toBe("produced".length);
    expect(await client.lost.promise).toBeInstanceOf(ConnectionDone);
    expect(client.stopped).toBe(true);
  });
});

describe("startTLS failures", () => {
  async function failedHandshake(options: TLSOptions, server: TLSOptions = serverTLS): Promise<Error> {
    const client = new StartsAtOnce(options, "never in clear");
    const peer = new StartsAtOnce(server, "");
    await connectPair(client, peer);
    const reason = await client.lost.promise;
    await peer.lost.promise;
    expect(peer.got).toBe("");
    expect(client.handshake).toBeNull();
    return reason;
  }

  it("an unknown CA ends the connection with an SSLError saying so (testFailedVerify)", async () => {
    const reason = await failedHandshake({ servername: "localhost" });
    expect(reason).toBeInstanceOf(SSLError);
    expect(reason.message).toMatch(/unknown CA/);
  });

  it("a certificate for another name ends the connection with an SSLError: hostname mismatch", async () => {
    const reason = await failedHandshake({ ca: read("ca.crt"), servername: "wirescope.invalid" });
    expect(reason).toBeInstanceOf(SSLError);
    expect(reason.message).toMatch(/hostname mismatch/);
  });

  it("no TLS version in common ends the connection with an SSLError: protocol version", async () => {
    const reason = await failedHandshake(
      { ...clientTLS, maxVersion: "TLSv1.2" },
      { ...serverTLS, minVersion: "TLSv1.3" },
    );
    expect(reason).toBeInstanceOf(SSLError);
    expect(reason.message).toMatch(/protocol version/);
  });

  it("startTLS twice, after the close, or on a UNIX connection throws CannotStartTLSError", async () => {
    const client = new StartsAtOnce(clientTLS, "");
    const server = new Recorder();
    await connectPair(client, server);
    await waitFor(() => client.connected && server.connected, "the connection");
    expect(() => tlsOf(client).startTLS(clientTLS)).toThrow(/already started/);
    expect(() => tlsOf(server).startTLS({ ...serverTLS, requestCert: true })).toThrow(/client certificate/);
    client.transport.abortConnection();
    await server.lost.promise;
    expect(() => tlsOf(server).startTLS(serverTLS)).toThrow(/closing or closed/);

    const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-tls-")), "s");
    const unixServer = new Recorder();
    const port = reactor.listenUNIX(socketPath, serving(unixServer));
    cleanups.push(() => port.stopListening());
    await port.listening;
    reactor.connectUNIX(socketPath, serving(new Recorder()));
    await waitFor(() => unixServer.connected, "the UNIX connection");
    expect(() => tlsOf(unixServer).startTLS(serverTLS)).toThrow(CannotStartTLSError);
    unixServer.transport.abortConnection();
  });
});
