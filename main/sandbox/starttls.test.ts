/**
 * STARTTLS from sandboxed protocols, with real workers and real TLS on 127.0.0.1: a protocol upgrades its own
 * connection with `this.transport.startTLS()` at the byte it chooses, learns the handshake (`handshakeCompleted`,
 * `getTLSInfo()`), keeps its TLS across a hot reload and a worker restart, and gets its mistakes back where it made
 * them. The peer is a node:tls client trusting the test CA in tests/fixtures/tls.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterEach, beforeEach, expect, test } from "vitest";
import { CannotStartTLSError } from "../../core/errors.ts";
import type { TLSInfo } from "../../core/interfaces.ts";
import { StringTransport } from "../../core/testing.ts";
import { waitFor } from "../../tests/helpers/net.ts";
import type { SandboxGroup } from "./host.ts";
import { SandboxHost } from "./sandbox-host.ts";
import { compile, EventLog, serveSandboxed } from "./test-helpers.ts";

const FIXTURES = path.join(import.meta.dirname, "../../tests/fixtures/tls");
const CA = fs.readFileSync(path.join(FIXTURES, "ca.crt"), "utf8");

let host: SandboxHost;
let group: SandboxGroup;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  host = new SandboxHost();
  group = host.createGroup("starttls");
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await host.dispose();
});

async function load(moduleKey: string, source: string): Promise<void> {
  const { code, sourceMap } = await compile(source, moduleKey);
  const result = await group.load(moduleKey, code, sourceMap);
  if (!result.ok) throw new Error(result.error.message);
}

/**
 * A line server that greets, answers each line with the TLS version it came over, and upgrades on "STARTTLS"
 * (after answering it, in clear) with the test certificate. `extra` is code run right after its startTLS call.
 */
const upgrading = (version: string, extra = "", before = "") => `
import { readFileSync } from "node:fs";
import { LineReceiver, type ITLSTransport, type TLSInfo } from "wirescope";
export default class Upgrading extends LineReceiver {
  declare transport: ITLSTransport;
  override connectionMade(): void {
    this.sendLine(Buffer.from("220 ready"));
  }
  override lineReceived(line: Buffer): void {
    const text = line.toString();
    if (text === "loop") while (true) {}
    if (text !== "STARTTLS") {
      this.sendLine(Buffer.from("${version} " + text + " over " + (this.transport.getTLSInfo()?.version ?? "plain")));
      return;
    }
    this.sendLine(Buffer.from("220 go ahead"));
    ${before}
    this.transport.startTLS({
      cert: readFileSync(${JSON.stringify(path.join(FIXTURES, "server.crt"))}),
      key: readFileSync(${JSON.stringify(path.join(FIXTURES, "server.key"))}, "utf8"),
    });
    this.sendLine(Buffer.from("written right after startTLS"));
    ${extra}
  }
  handshakeCompleted(info: TLSInfo): void {
    this.log.info("handshake {version} sni={sni}", { version: info.version, sni: info.servername });
  }
}`;

/** A client that speaks plain, then upgrades its socket in place with node:tls, trusting the test CA. */
class UpgradingClient {
  received = "";
  closed = false;
  private stream: net.Socket;

  constructor(port: number) {
    this.stream = net.connect({ host: "127.0.0.1", port });
    this.listen(this.stream);
    cleanups.push(() => this.stream.destroy());
  }

  private listen(stream: net.Socket): void {
    stream.on("data", (chunk: Buffer) => (this.received += chunk.toString("latin1")));
    stream.on("close", () => (this.closed = true));
    stream.on("error", () => {});
  }

  send(text: string): void {
    this.stream.write(text);
  }

  async until(text: string): Promise<void> {
    await waitFor(() => this.received.includes(text), `${JSON.stringify(text)} (got ${JSON.stringify(this.received)})`);
  }

  /** Turns the connection TLS (SNI "localhost"); resolves once the handshake is done. */
  async upgrade(): Promise<tls.TLSSocket> {
    const plain = this.stream;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    const secure = tls.connect({ socket: plain, ca: CA, servername: "localhost" });
    await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
    this.stream = secure;
    this.listen(secure);
    cleanups.push(() => secure.destroy());
    return secure;
  }
}

test("a protocol upgrades on STARTTLS: a node:tls client gets its answers encrypted, the protocol hears the handshake", async () => {
  await load("upgrading.ts", upgrading("v1"));
  const { port, portNumber, recorders } = await serveSandboxed(group, "upgrading.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  await client.until("220 ready\r\n");
  client.send("hello\r\nSTARTTLS\r\n");
  await client.until("220 go ahead\r\n");
  // Everything up to the go-ahead came in clear; the line written right after startTLS did not.
  expect(client.received).toBe("220 ready\r\nv1 hello over plain\r\n220 go ahead\r\n");
  client.received = "";
  const secure = await client.upgrade();
  expect(secure.getProtocol()).toBe("TLSv1.3");
  client.send("hello again\r\n");
  await client.until("v1 hello again over TLSv1.3\r\n");
  expect(client.received).toBe("written right after startTLS\r\nv1 hello again over TLSv1.3\r\n");
  const events = recorders[0]!.events;
  await waitFor(() => events.logs.length === 1, "the handshake's log line");
  expect(events.logs[0]!.text).toBe("handshake TLSv1.3 sni=localhost");
  expect(events.errors).toEqual([]);
});

test("a log between the go-ahead and startTLS: the peer's ClientHello still goes to TLS, not to the protocol", async () => {
  // The log is posted at once (in case the code never returns); the go-ahead written before it must not reach the
  // peer before startTLS is applied, or a quick peer's ClientHello arrives while the connection is still plain.
  const dawdle = `this.log.info("upgrading"); for (const until = Date.now() + 150; Date.now() < until; );`;
  await load("upgrading.ts", upgrading("v1", "", dawdle));
  const { port, portNumber } = await serveSandboxed(group, "upgrading.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  client.send("STARTTLS\r\n");
  await client.until("220 go ahead\r\n");
  await client.upgrade();
  client.send("quick\r\n");
  await client.until("v1 quick over TLSv1.3\r\n");
});

test("a second startTLS throws at the user's call, and the first one's TLS stands", async () => {
  await load(
    "upgrading.ts",
    upgrading(
      "v1",
      `try { this.transport.startTLS(); } catch (err) { this.log.warn("refused: {what}", { what: String(err) }); }`,
    ),
  );
  const { port, portNumber, recorders } = await serveSandboxed(group, "upgrading.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  client.send("STARTTLS\r\n");
  await client.until("220 go ahead\r\n");
  await client.upgrade();
  client.send("still here\r\n");
  await client.until("v1 still here over TLSv1.3\r\n");
  const events = recorders[0]!.events;
  await waitFor(() => events.logs.length === 2, "the refusal and the handshake");
  expect(events.logs.map((e) => e.text)).toEqual([
    "refused: CannotStartTLSError: TLS is already started on this connection.",
    "handshake TLSv1.3 sni=localhost",
  ]);
  expect(events.halted).toEqual([]);
});

test("options that can't cross threads are refused at the call, and TLS can still start after", async () => {
  await load(
    "picky.ts",
    `import { Protocol, type ITLSTransport } from "wirescope";
     export default class Picky extends Protocol {
       declare transport: ITLSTransport;
       override connectionMade(): void {
         for (const options of [{ SNICallback: () => {} }, { ALPNProtocols: "h2" }, { servername: 42 }]) {
           try { this.transport.startTLS(options as object); } catch (err) { this.log.warn(String(err)); }
         }
         this.transport.write(Buffer.from("plain still\\n"));
       }
     }`,
  );
  const { port, portNumber, recorders } = await serveSandboxed(group, "picky.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  await client.until("plain still\n");
  const events = recorders[0]!.events;
  await waitFor(() => events.logs.length === 3, "three refusals");
  expect(events.logs.map((e) => e.text)).toEqual([
    "TypeError: startTLS in a sandboxed protocol takes servername, ALPNProtocols, rejectUnauthorized, ca, cert, " +
      "key; 'SNICallback' is not one of them",
    `TypeError: startTLS: 'ALPNProtocols' must be a list of strings, such as ["h2", "http/1.1"]`,
    "TypeError: startTLS: 'servername' must be a string",
  ]);
});

test("after the upgrade, a hot reload keeps the connection TLS; a hang halts it, and the fix resumes it over TLS", async () => {
  await load("upgrading.ts", upgrading("v1"));
  const { port, portNumber, recorders } = await serveSandboxed(group, "upgrading.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  client.send("STARTTLS\r\n");
  await client.until("220 go ahead\r\n");
  await client.upgrade();
  client.received = "";

  await load("upgrading.ts", upgrading("v2"));
  client.send("after reload\r\n");
  await client.until("v2 after reload over TLSv1.3\r\n");

  client.send("loop\r\n");
  const events = recorders[0]!.events;
  await waitFor(() => events.halted.length === 1, "the watchdog to halt the protocol", 5000);
  expect(client.closed).toBe(false);

  await load("upgrading.ts", upgrading("v3"));
  // A fresh instance on the new worker: it greets (over TLS), is told the connection is TLS, and answers over it.
  client.send("after restart\r\n");
  await client.until("v3 after restart over TLSv1.3\r\n");
  expect(client.received).toContain("220 ready\r\n");
  await waitFor(
    () => events.logs.filter((e) => e.text.startsWith("handshake")).length === 2,
    "the second handshake log",
  );
  expect(client.closed).toBe(false);
});

test("startTLS on a connection that can't do TLS throws CannotStartTLSError at the call, with its source line", async () => {
  await load(
    "no-tls.ts",
    `import { Protocol, type ITLSTransport } from "wirescope";
     export default class NoTLS extends Protocol {
       declare transport: ITLSTransport;
       override connectionMade(): void {
         this.transport.startTLS();
       }
     }`,
  );
  const events = new EventLog();
  group.attach({ moduleKey: "no-tls.ts" }, events).makeConnection(new StringTransport());
  await waitFor(() => events.halted.length === 1, "the halt");
  expect(events.errors[0]).toMatchObject({ callback: "connectionMade", source: { file: "no-tls.ts", line: 5 } });
  expect(events.halted[0]).toMatch(/^CannotStartTLSError: This connection can't turn TLS/);
});

test("a transport that refuses startTLS later: a protocol error on the timeline, the connection aborted", async () => {
  /** A transport that says it can do TLS, and refuses when asked (as a TLS listener's connection does). */
  class RefusingTransport extends StringTransport {
    startTLS(): void {
      throw new CannotStartTLSError("TLS is already started on this connection.");
    }
    getTLSInfo(): TLSInfo | null {
      return null;
    }
    getPeerCertificate(): null {
      return null;
    }
  }
  await load(
    "asks.ts",
    `import { Protocol, type ITLSTransport } from "wirescope";
     export default class Asks extends Protocol {
       declare transport: ITLSTransport;
       override dataReceived(data: Uint8Array): void {
         if (Buffer.from(data).toString() === "upgrade") {
           this.transport.startTLS();
           this.transport.write(Buffer.from("for TLS only"));
         } else this.transport.write(data);
       }
     }`,
  );
  const events = new EventLog();
  const transport = new RefusingTransport();
  const sandboxed = group.attach({ moduleKey: "asks.ts" }, events);
  sandboxed.makeConnection(transport);
  sandboxed.dataReceived(Buffer.from("echo"));
  await waitFor(() => transport.value().toString() === "echo", "the echo");
  sandboxed.dataReceived(Buffer.from("upgrade"));
  await waitFor(() => events.errors.length === 1, "the refusal");
  expect(events.errors[0]).toMatchObject({
    callback: "startTLS",
    message:
      "CannotStartTLSError: TLS is already started on this connection. " +
      "(the connection was aborted: nothing written after startTLS was sent)",
  });
  // Fails closed: what the protocol wrote after its startTLS call is not sent in clear.
  expect(transport.aborted).toBe(true);
  expect(transport.value().toString()).toBe("echo");
  expect(events.halted).toEqual([]);
});

/** A server that turns TLS at once with `options` and writes a secret right after: bytes meant for TLS only. */
const secretAfterStartTLS = (options: string) => `
import { Protocol, type ITLSTransport } from "wirescope";
export default class Secret extends Protocol {
  declare transport: ITLSTransport;
  override connectionMade(): void {
    this.transport.write(Buffer.from("220 ready\\r\\n"));
    this.transport.startTLS(${options});
    this.transport.write(Buffer.from("AUTH PLAIN c2VjcmV0\\r\\n"));
  }
}`;

test("startTLS refused by the main thread: the connection is aborted, the bytes written after it never sent", async () => {
  await load("secret.ts", secretAfterStartTLS(`{ cert: "not a certificate", key: "not a key" }`));
  const { port, portNumber, recorders } = await serveSandboxed(group, "secret.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  await waitFor(() => client.closed || client.received.includes("AUTH"), "the connection to be aborted");
  expect(client.received).toBe("220 ready\r\n");
  expect(client.closed).toBe(true);
  const events = recorders[0]!.events;
  expect(events.errors).toHaveLength(1);
  expect(events.errors[0]).toMatchObject({ callback: "startTLS" });
  expect(events.errors[0]!.message).toContain("the connection was aborted: nothing written after startTLS was sent");
});

test("startTLS options past the engine's limits throw at the call: the secret after it is never written", async () => {
  await load("secret.ts", secretAfterStartTLS(`{ servername: "a".repeat(300) }`));
  const { port, portNumber, recorders } = await serveSandboxed(group, "secret.ts");
  cleanups.push(() => port.stopListening());
  const client = new UpgradingClient(portNumber);
  await waitFor(() => recorders[0]?.events.halted.length === 1 || client.received.includes("AUTH"), "the halt");
  const events = recorders[0]!.events;
  expect(events.halted[0]).toBe("TypeError: startTLS: 'servername' is at most 253 characters at secret.ts:7:20");
  expect(events.errors[0]).toMatchObject({ callback: "connectionMade", source: { file: "secret.ts", line: 7 } });
  await client.until("220 ready\r\n");
  expect(client.received).toBe("220 ready\r\n");
});
