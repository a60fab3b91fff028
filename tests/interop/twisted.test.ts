/**
 * Interop with the real thing: Twisted 22.4 (Debian's python3-twisted) as the peer of the core's framers, both
 * ways, on 127.0.0.1. The Twisted side runs as a child process started with the core's own spawnProcess.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { IPv4Address } from "../../core/address.ts";
import type { ProcessDone, ProcessTerminated } from "../../core/errors.ts";
import { isTLSTransport, type Bytes, type IConnector, type TLSInfo } from "../../core/interfaces.ts";
import { ProcessProtocol, type ProcessTransport } from "../../core/process.ts";
import { ClientFactory, Factory, type Protocol } from "../../core/protocol.ts";
import { Int32StringReceiver, LineReceiver, NetstringReceiver } from "../../core/protocols/basic.ts";
import { reactor } from "../../core/reactor.ts";
import { deferred, listenLocal } from "../helpers/net.ts";

const PYTHON = "/usr/bin/python3";
const PEER = path.join(import.meta.dirname, "twisted_peer.py");
const MESSAGES = ["hello", "", "x".repeat(5000), "café"];

beforeAll(() => {
  try {
    execFileSync(PYTHON, ["-c", "import twisted"], { stdio: "pipe" });
  } catch {
    throw new Error(
      "These tests need Twisted as a real peer: /usr/bin/python3 with python3-twisted. " +
        "Install it with `apt-get install python3-twisted` (.ci/run does this).",
    );
  }
});

/** Collects a child's stdout as lines; resolves `ended` with the exit reason. */
class PeerProcess extends ProcessProtocol {
  lines: string[] = [];
  stderr = "";
  private buffer = "";
  private waiters: (() => void)[] = [];
  ended = deferred<ProcessDone | ProcessTerminated>();
  override outReceived(data: Bytes): void {
    this.buffer += Buffer.from(data).toString();
    let i: number;
    while ((i = this.buffer.indexOf("\n")) !== -1) {
      this.lines.push(this.buffer.slice(0, i));
      this.buffer = this.buffer.slice(i + 1);
    }
    for (const w of this.waiters.splice(0)) w();
  }
  override errReceived(data: Bytes): void {
    this.stderr += Buffer.from(data).toString();
  }
  override processEnded(reason: ProcessDone | ProcessTerminated): void {
    this.ended.resolve(reason);
    for (const w of this.waiters.splice(0)) w();
  }
  /** The next line the child prints. */
  async nextLine(): Promise<string> {
    while (this.lines.length === 0) {
      if (!this.transport) throw new Error("not started");
      const settled = await Promise.race([
        new Promise<false>((r) => this.waiters.push(() => r(false))),
        this.ended.promise.then(() => true),
      ]);
      if (settled && this.lines.length === 0) throw new Error(`Twisted peer exited: ${this.stderr}`);
    }
    return this.lines.shift()!;
  }
}

const children: ProcessTransport[] = [];
afterEach(() => {
  for (const c of children.splice(0)) {
    try {
      c.signalProcess("KILL");
    } catch {
      // already exited
    }
  }
});

function startPeer(args: string[]): PeerProcess {
  const pp = new PeerProcess();
  children.push(reactor.spawnProcess(pp, PYTHON, ["python3", PEER, ...args], { env: { LANG: "C.UTF-8" } }));
  return pp;
}

/** Connects a core client protocol to a Twisted server; resolves with what the client collected. */
async function talkTo(kind: string, make: () => Protocol & { got: string[] }): Promise<string[]> {
  const peer = startPeer(["server", kind]);
  const port = Number(await peer.nextLine());
  const done = deferred<string[]>();
  const f = new ClientFactory();
  let protocol: (Protocol & { got: string[] }) | null = null;
  f.buildProtocol = () => (protocol = make());
  f.clientConnectionLost = () => done.resolve(protocol!.got);
  f.clientConnectionFailed = (_c: IConnector, reason: Error) => done.reject(reason);
  reactor.connectTCP("127.0.0.1", port, f);
  const got = await done.promise;
  peer.transport.closeStdin(); // the Twisted server stops on EOF
  expect(await peer.ended.promise).toMatchObject({ exitCode: 0 });
  return got;
}

describe("core framers against Twisted 22.4", () => {
  it("LineReceiver client <-> Twisted LineReceiver server", async () => {
    class Client extends LineReceiver {
      got: string[] = [];
      override connectionMade() {
        for (const m of MESSAGES) this.sendLine(Buffer.from(m));
      }
      override lineReceived(line: Bytes) {
        this.got.push(Buffer.from(line).toString());
        if (this.got.length === MESSAGES.length) this.transport.loseConnection();
      }
    }
    // Python's bytes.upper() changes ASCII letters only.
    const asciiUpper = (m: string) => m.replace(/[a-z]/g, (c) => c.toUpperCase());
    expect(await talkTo("lines", () => new Client())).toEqual(MESSAGES.map(asciiUpper));
  });

  it("Int32StringReceiver client <-> Twisted Int32StringReceiver server", async () => {
    class Client extends Int32StringReceiver {
      got: string[] = [];
      override connectionMade() {
        for (const m of MESSAGES) this.sendString(Buffer.from(m, "latin1"));
      }
      override stringReceived(s: Bytes) {
        this.got.push(Buffer.from(s).toString("latin1"));
        if (this.got.length === MESSAGES.length) this.transport.loseConnection();
      }
    }
    const reversed = MESSAGES.map((m) => [...m].reverse().join(""));
    expect(await talkTo("int32", () => new Client())).toEqual(reversed);
  });

  it("NetstringReceiver client <-> Twisted NetstringReceiver server", async () => {
    class Client extends NetstringReceiver {
      got: string[] = [];
      override connectionMade() {
        for (const m of MESSAGES) this.sendString(Buffer.from(m));
      }
      override stringReceived(s: Bytes) {
        this.got.push(Buffer.from(s).toString());
        if (this.got.length === MESSAGES.length) this.transport.loseConnection();
      }
    }
    const expected = MESSAGES.map((m) => `${Buffer.byteLength(m)}:${m}`);
    expect(await talkTo("netstring", () => new Client())).toEqual(expected);
  });

  it("Twisted clients <-> core servers (LineReceiver, Int32StringReceiver)", async () => {
    class Upper extends LineReceiver {
      override lineReceived(line: Bytes) {
        this.sendLine(Buffer.from(Buffer.from(line).toString().toUpperCase()));
      }
    }
    class Reverse extends Int32StringReceiver {
      override stringReceived(s: Bytes) {
        this.sendString(Buffer.from(s).reverse());
      }
    }
    for (const [kind, factory, expected] of [
      ["lines", Factory.forProtocol(Upper), MESSAGES.map((m) => m.toUpperCase())],
      [
        "int32",
        Factory.forProtocol(Reverse),
        MESSAGES.map((m) => Buffer.from(Buffer.from(m).reverse()).toString("utf8")),
      ],
    ] as const) {
      const { port, portNumber } = await listenLocal(factory);
      const peer = startPeer(["client", kind, String(portNumber)]);
      const printed = JSON.parse(await peer.nextLine()) as unknown;
      expect(printed).toEqual(expected);
      await peer.ended.promise;
      await port.stopListening();
      expect((port.getHost() as IPv4Address).host).toBe("127.0.0.1");
    }
  });
});

describe("startTLS against Twisted 22.4's own startTLS", () => {
  const tlsDir = path.join(import.meta.dirname, "../fixtures/tls");
  const read = (name: string) => fs.readFileSync(path.join(tlsDir, name));
  const asciiUpper = (m: string) => m.replace(/[a-z]/g, (c) => c.toUpperCase());

  it("core client upgrades a Twisted LineReceiver server that answers STARTTLS, then exchanges lines", async () => {
    let handshake: TLSInfo | null = null;
    let peerName: unknown = null;
    class Client extends LineReceiver {
      got: string[] = [];
      private secure = false;
      override connectionMade() {
        this.sendLine(Buffer.from("STARTTLS"));
      }
      override lineReceived(line: Bytes) {
        if (this.secure) {
          this.got.push(Buffer.from(line).toString());
          if (this.got.length === MESSAGES.length) this.transport.loseConnection();
          return;
        }
        if (Buffer.from(line).toString() !== "READY" || !isTLSTransport(this.transport)) return;
        this.secure = true;
        this.transport.startTLS({ ca: read("ca.crt"), servername: "localhost" });
        for (const m of MESSAGES) this.sendLine(Buffer.from(m)); // before the handshake: held, then encrypted
      }
      handshakeCompleted(info: TLSInfo) {
        handshake = info;
        if (isTLSTransport(this.transport)) peerName = this.transport.getPeerCertificate()?.subject.CN;
      }
    }
    expect(await talkTo("starttls", () => new Client())).toEqual(MESSAGES.map(asciiUpper));
    expect(handshake).toMatchObject({ servername: "localhost" });
    expect(peerName).toBe("localhost");
  });

  it("a Twisted client upgrades after our server answers STARTTLS, then exchanges lines", async () => {
    const handshakes: TLSInfo[] = [];
    class Server extends LineReceiver {
      override lineReceived(line: Bytes) {
        const text = Buffer.from(line).toString();
        if (text === "STARTTLS" && isTLSTransport(this.transport)) {
          this.sendLine(Buffer.from("READY")); // written before startTLS: goes out in clear
          this.transport.startTLS({ key: read("server.key"), cert: read("server.crt") });
        } else {
          this.sendLine(Buffer.from(text.toUpperCase()));
        }
      }
      handshakeCompleted(info: TLSInfo) {
        handshakes.push(info);
      }
    }
    const { port, portNumber } = await listenLocal(Factory.forProtocol(Server));
    const peer = startPeer(["client", "starttls", String(portNumber)]);
    expect(JSON.parse(await peer.nextLine())).toEqual(MESSAGES.map((m) => m.toUpperCase()));
    expect(await peer.ended.promise).toMatchObject({ exitCode: 0 });
    await port.stopListening();
    expect(handshakes).toHaveLength(1);
    expect(handshakes[0].servername).toBe("localhost");
  });
});
