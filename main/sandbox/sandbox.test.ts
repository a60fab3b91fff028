/**
 * The sandbox over real sockets on 127.0.0.1, with a real worker: protocols run sandboxed behind a core
 * ListeningPort (as the engine will run them) against node:net peers.
 */
import * as net from "node:net";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Address } from "../../core/address.ts";
import { ClientFactory } from "../../core/protocol.ts";
import { reactor } from "../../core/reactor.ts";
import { waitFor } from "../../tests/helpers/net.ts";
import { LISTEN_REFUSED } from "./bridge-reactor.ts";
import type { ConnectRequest } from "./connect-request.ts";
import type { SandboxGroup } from "./host.ts";
import { SandboxHost } from "./sandbox-host.ts";
import type { CountingWrapper } from "./test-helpers.ts";
import { compile, EventLog, Peer, serveSandboxed } from "./test-helpers.ts";

let host: SandboxHost;
let group: SandboxGroup;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  host = new SandboxHost();
  group = host.createGroup("test");
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await host.dispose();
});

/** Serves `moduleKey` sandboxed; stops listening and closes the peers after the test. */
async function serve(moduleKey: string, exportName?: string) {
  const served = await serveSandboxed(group, moduleKey, exportName);
  cleanups.push(() => served.port.stopListening());
  return served;
}

async function connectPeer(port: number): Promise<Peer> {
  const peer = new Peer(port);
  cleanups.push(() => peer.close());
  await peer.ready();
  return peer;
}

/** Loads TypeScript source into the group; fails the test if it does not load. */
async function load(moduleKey: string, source: string): Promise<void> {
  const { code, sourceMap } = await compile(source, moduleKey);
  const result = await group.load(moduleKey, code, sourceMap);
  if (!result.ok) throw new Error(result.error.message);
}

/** The 1-based line of the first line of `source` containing `marker`. */
function lineOf(source: string, marker: string): number {
  return source.split("\n").findIndex((line) => line.includes(marker)) + 1;
}

describe("running protocols", () => {
  test("an echo Protocol and a LineReceiver run sandboxed against real peers", async () => {
    await load(
      "echo.ts",
      `import { Protocol } from "wirescope";
       export default class Echo extends Protocol {
         dataReceived(data: Uint8Array) { this.transport.write(data); }
       }`,
    );
    await load(
      "upper.ts",
      `import { LineReceiver } from "wirescope";
       export class Upper extends LineReceiver {
         connectionMade() { this.sendLine(Buffer.from("hello " + this.transport.getPeer().host)); }
         lineReceived(line: Buffer) {
           if (line.toString() === "quit") this.transport.loseConnection();
           else this.sendLine(Buffer.from(line.toString().toUpperCase()));
         }
       }`,
    );
    const echo = await serve("echo.ts");
    const upper = await serve("upper.ts");
    const a = await connectPeer(echo.portNumber);
    const b = await connectPeer(upper.portNumber);
    a.send("one\r\ntwo\r\n");
    b.send("abc\r\nd");
    b.send("ef\r\nquit\r\nignored\r\n");
    await waitFor(() => a.lines.length === 2 && b.closed, "echo and upper");
    expect(a.lines).toEqual(["one", "two"]);
    expect(b.lines).toEqual(["hello 127.0.0.1", "ABC", "DEF"]);
    await waitFor(() => upper.recorders[0]!.lost !== null, "the loss");
    expect(upper.recorders[0]!.lost!.name).toBe("ConnectionDone");
    expect(group.liveConnections.map((p) => p.id)).toEqual([echo.recorders[0]!.inner.id]);
  });

  test("a protocol's log events reach its connection, rendered and JSON-safe", async () => {
    const source = `import { LineReceiver } from "wirescope";
       export default class Chatty extends LineReceiver {
         lineReceived(line: Buffer) {
           this.log.info("got {line} ({size} bytes)", { line, size: line.length, why: new TypeError("just so") });
         }
       }`;
    await load("chatty.ts", source);
    const { portNumber, recorders } = await serve("chatty.ts");
    const peer = await connectPeer(portNumber);
    peer.send("h\xe9llo\r\n");
    await waitFor(() => recorders[0]?.events.logs.length === 1, "the log event");
    const event = recorders[0]!.events.logs[0]!;
    expect(event).toMatchObject({
      level: "info",
      namespace: "Chatty",
      text: 'got "h\xe9llo" (5 bytes)',
      fields: { line: "h\xe9llo", size: 5, why: "TypeError: just so" },
    });
    expect(typeof event.time).toBe("number");
  });
  test("a field that throws, a cycle, an unknown level: each event is recorded bounded, and logging carries on", async () => {
    const source = `import { LineReceiver, Logger } from "wirescope";
       export default class Odd extends LineReceiver {
         lineReceived(line: Buffer) {
           const text = line.toString();
           if (text === "getter") this.log.info("boom", { bad: { get x() { throw new Error("no x"); } } });
           if (text === "cycle") { const c: Record<string, unknown> = {}; for (let i = 0; i < 12; i++) c["k" + i] = c; this.log.info("cycle", { c }); }
           if (text === "level") this.log.emit("notice" as never, "a level of my own");
           this.transport.write(Buffer.from(text + "!"));
           this.log.info("after {text}", { text });
         }
       }`;
    await load("odd.ts", source);
    const { portNumber, recorders } = await serve("odd.ts");
    const peer = await connectPeer(portNumber);
    peer.send("getter\r\ncycle\r\nlevel\r\nfine\r\n");
    await waitFor(() => recorders[0]?.events.logs.some((e) => e.text === "after fine") === true, "the last log");
    const logs = recorders[0]!.events.logs;
    expect(logs.map((e) => e.text)).toEqual([
      "boom",
      "after getter",
      "cycle",
      "after cycle",
      "a level of my own",
      "after level",
      "after fine",
    ]);
    expect(JSON.parse(logs[0]!.fieldsJson)).toEqual({ unserializable: "a log field could not be read: Error: no x" });
    // 12 keys each referring to the object: 10,000 values at most, not 12^6.
    expect(logs[2]!.fieldsJson.length).toBeLessThan(500_000);
    expect(logs[4]!.level).toBe("info");
    await waitFor(() => peer.received.toString() === "getter!cycle!level!fine!", "every write");
  });

  test("a decoded message's spans reach the engine JSON-safe, plain ones and odd ones alike", async () => {
    await load(
      "spans.ts",
      `import { LineReceiver } from "wirescope";
       export default class Spans extends LineReceiver {
         lineReceived(line: Buffer) {
           this.log.message("plain {n}", { n: line.length }, { fieldSpans: { n: [1, 2] }, request: 7 });
           const odd = { dir: "in", offset: Infinity, length: 1, note: function note() {} };
           this.log.message("odd", {}, { spans: [odd as never, { dir: "out", offset: 3, length: 4, fd: 2 }] });
         }
       }`,
    );
    const { portNumber, recorders } = await serve("spans.ts");
    const peer = await connectPeer(portNumber);
    peer.send("ab\r\nabcd\r\n");
    await waitFor(() => recorders[0]?.events.logs.length === 4, "four messages");
    expect(recorders[0]!.events.logs.map((e) => e.message)).toEqual([
      {
        spans: [{ dir: "in", offset: 0, length: 4 }],
        fieldSpans: { n: [{ dir: "in", offset: 1, length: 2 }] },
        pair: { role: "request", key: "7" },
      },
      {
        spans: [
          { dir: "in", offset: "Infinity", length: 1, note: "<function note>" },
          { dir: "out", offset: 3, length: 4, fd: 2 },
        ],
      },
      {
        spans: [{ dir: "in", offset: 4, length: 6 }],
        fieldSpans: { n: [{ dir: "in", offset: 5, length: 2 }] },
        pair: { role: "request", key: "7" },
      },
      {
        spans: [
          { dir: "in", offset: "Infinity", length: 1, note: "<function note>" },
          { dir: "out", offset: 3, length: 4, fd: 2 },
        ],
      },
    ]);
  });

  test("what a protocol posts on its worker's own port is ignored: the engine and the connection carry on", async () => {
    await load(
      "poster.ts",
      `import { LineReceiver } from "wirescope";
       import { parentPort } from "node:worker_threads";
       export default class Poster extends LineReceiver {
         lineReceived(line: Buffer) {
           for (const junk of [null, "junk", { ops: [{ op: "closed", id: 1 }] }, { ops: "[", bytes: null }]) {
             parentPort!.postMessage(junk);
           }
           this.sendLine(Buffer.from("ok " + line.toString()));
         }
       }`,
    );
    const { portNumber, recorders } = await serve("poster.ts");
    const peer = await connectPeer(portNumber);
    peer.send("one\r\ntwo\r\n");
    await waitFor(() => peer.lines.length === 2, "both answers");
    expect(peer.lines).toEqual(["ok one", "ok two"]);
    expect(recorders[0]!.events.errors).toEqual([]);
    expect(recorders[0]!.events.halted).toEqual([]);
  });
});

describe("the transport", () => {
  test("a streaming producer is paused when the real socket's buffer fills and resumed when it drains", async () => {
    const total = 8 * 1024 * 1024;
    await load(
      "streamer.ts",
      `import { Protocol, reactor } from "wirescope";
       export default class Streamer extends Protocol {
         paused = false;
         sent = 0;
         connectionMade() {
           this.transport.registerProducer(this, true);
           this.produce();
         }
         produce() {
           if (this.paused) return;
           if (this.sent >= ${total}) {
             this.transport.unregisterProducer();
             this.transport.loseConnection();
             return;
           }
           this.transport.write(Buffer.alloc(16384, 97));
           this.sent += 16384;
           reactor.callLater(0, () => this.produce());
         }
         pauseProducing() { this.paused = true; this.log.info("paused at {sent}", { sent: this.sent }); }
         resumeProducing() { this.paused = false; this.log.info("resumed"); this.produce(); }
         stopProducing() {}
       }`,
    );
    const { portNumber, recorders } = await serve("streamer.ts");
    let received = 0;
    const socket = net.connect({ host: "127.0.0.1", port: portNumber });
    cleanups.push(() => socket.destroy());
    socket.pause();
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise((resolve) => socket.once("end", resolve));
    await waitFor(() => recorders[0]?.events.logs.some((e) => e.text.startsWith("paused")) === true, "the pause");

    // While paused, what waits in the main thread stays near the 64 KiB mark (plus what was already in flight).
    const transport = recorders[0]!.transport as { bufferedAmount?: number };
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(transport.bufferedAmount).toBeLessThan(1024 * 1024);
    socket.resume();
    await ended;
    expect(received).toBe(total);
    expect(recorders[0]!.events.logs.some((e) => e.text === "resumed")).toBe(true);
    expect(recorders[0]!.events.errors).toEqual([]);
  });

  test("half-close: a half-closeable protocol hears the peer's FIN, answers, and shuts its write side", async () => {
    await load(
      "polite.ts",
      `import { Protocol } from "wirescope";
       export default class Polite extends Protocol {
         said = "";
         dataReceived(data: Uint8Array) { this.said += Buffer.from(data).toString(); }
         readConnectionLost() {
           this.transport.write(Buffer.from("you said: " + this.said));
           this.transport.loseWriteConnection();
         }
         writeConnectionLost() { this.log.info("write side closed"); }
       }`,
    );
    const { portNumber, recorders } = await serve("polite.ts");
    const socket = net.connect({ host: "127.0.0.1", port: portNumber, allowHalfOpen: true });
    cleanups.push(() => socket.destroy());
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    const ended = new Promise((resolve) => socket.once("end", resolve));
    socket.end("hi there");
    await ended;
    expect(answer).toBe("you said: hi there");
    await waitFor(() => recorders[0]!.events.logs.length === 1, "writeConnectionLost");
    expect(recorders[0]!.events.logs[0]!.text).toBe("write side closed");
    await waitFor(() => recorders[0]!.lost !== null, "the close");
  });
});

describe("a protocol that throws", () => {
  const faulty = `import { LineReceiver, reactor } from "wirescope";
class Base extends LineReceiver {
  lineReceived(line: Buffer) {
    this.sendLine(Buffer.from("echo:" + line.toString()));
  }
}
export class InConnectionMade extends Base {
  connectionMade() {
    throw new Error("boom in connectionMade"); // connectionMade-marker
  }
}
export class InDataReceived extends Base {
  lineReceived(line: Buffer) {
    if (line.toString() === "boom") throw new RangeError("boom in lineReceived"); // dataReceived-marker
    super.lineReceived(line);
  }
}
export class InConnectionLost extends Base {
  connectionLost() {
    throw new Error("boom in connectionLost"); // connectionLost-marker
  }
}
export class InCallLater extends Base {
  connectionMade() {
    reactor.callLater(0.01, () => {
      throw new Error("boom in callLater"); // callLater-marker
    });
  }
}
export class InPromise extends Base {
  lineReceived(line: Buffer) {
    void this.later(line);
  }
  async later(line: Buffer) {
    await null;
    if (line.toString() === "boom") throw new Error("boom in a promise"); // unhandled rejection-marker
    super.lineReceived(line);
  }
}
`;

  beforeEach(async () => {
    await load("faulty.ts", faulty);
  });

  /** Serves `exportName`, connects a peer, and waits for the halt it causes (after `provoke`). */
  async function halts(exportName: string, callback: string, provoke: (peer: Peer) => void) {
    const served = await serve("faulty.ts", exportName);
    const peer = await connectPeer(served.portNumber);
    provoke(peer);
    await waitFor(() => served.recorders[0]?.events.halted.length === 1, `the halt in ${callback}`);
    const recorder = served.recorders[0]!;
    const { errors, halted } = recorder.events;
    const line = lineOf(faulty, `${callback}-marker`);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.callback).toBe(callback);
    expect(errors[0]!.source).toMatchObject({ file: "faulty.ts", line });
    expect(errors[0]!.stack).toContain(`faulty.ts:${line}:`);
    expect(halted[0]).toMatch(new RegExp(`^(\\w+: )?boom in .* at faulty\\.ts:${line}:\\d+$`));
    return { served, peer, recorder };
  }

  /** The socket stays open and the engine keeps receiving bytes; the protocol sees none of them. */
  async function stillOpen(peer: Peer, recorder: CountingWrapper) {
    const before = recorder.bytesIn;
    const repliesBefore = peer.received.length;
    peer.send("after the halt\r\n");
    await waitFor(() => recorder.bytesIn === before + 16, "the engine to record the bytes");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(peer.closed).toBe(false);
    expect(recorder.lost).toBeNull();
    expect(peer.received.length).toBe(repliesBefore);
    expect(recorder.inner.haltReason).not.toBeNull();
  }

  test("in connectionMade: reported with the user's line, halted, socket open", async () => {
    const { peer, recorder } = await halts("InConnectionMade", "connectionMade", () => {});
    await stillOpen(peer, recorder);
  });

  test("in dataReceived: halted; another connection of the group carries on; a fix resumes it", async () => {
    const { served, peer, recorder } = await halts("InDataReceived", "dataReceived", (p) => {
      p.send("hi\r\nboom\r\nnever\r\n");
    });
    // The reply to "hi" was written before the halt; it may still be on its way to the peer.
    await waitFor(() => peer.lines.length >= 1, "the reply written before the halt");
    expect(peer.lines).toEqual(["echo:hi"]);
    expect(recorder.events.errors[0]!.message).toBe("boom in lineReceived");
    expect(recorder.events.halted[0]).toMatch(/^RangeError: boom in lineReceived at faulty\.ts:/);
    await stillOpen(peer, recorder);

    const other = await connectPeer(served.portNumber);
    other.send("still here\r\n");
    await waitFor(() => other.lines.length === 1, "the other connection's echo");
    expect(other.lines).toEqual(["echo:still here"]);

    // The user fixes the file: the same connection, the same instance, runs the new code. What the instance had
    // buffered before the halt ("never") is still its own; what arrived while halted never reached it.
    await load("faulty.ts", faulty.replace('"echo:"', '"fixed:"').replace('=== "boom"', '=== "not any more"'));
    expect(recorder.events.reloaded).toBe(1);
    expect(recorder.events.resumed).toBe(1);
    expect(recorder.inner.haltReason).toBeNull();
    peer.send("boom\r\n");
    await waitFor(() => peer.lines.length === 3, "the fixed replies");
    expect(peer.lines).toEqual(["echo:hi", "fixed:never", "fixed:boom"]);
  });

  test("in connectionLost: reported with the user's line", async () => {
    const served = await serve("faulty.ts", "InConnectionLost");
    const peer = await connectPeer(served.portNumber);
    peer.send("x\r\n");
    await waitFor(() => peer.lines.length === 1, "the echo");
    peer.close();
    await waitFor(() => served.recorders[0]!.events.errors.length === 1, "the error");
    const { errors, halted } = served.recorders[0]!.events;
    expect(errors[0]).toMatchObject({
      callback: "connectionLost",
      message: "boom in connectionLost",
      source: { file: "faulty.ts", line: lineOf(faulty, "connectionLost-marker") },
    });
    expect(halted).toHaveLength(1);
  });

  test("in a callLater callback: halted, socket open", async () => {
    const { peer, recorder } = await halts("InCallLater", "callLater", () => {});
    await stillOpen(peer, recorder);
  });

  test("in a promise it started: halted, socket open", async () => {
    const { peer, recorder } = await halts("InPromise", "unhandled rejection", (p) => p.send("ok\r\nboom\r\n"));
    // The echo is written in the batch that reports the halt: it may reach the peer a moment after.
    await waitFor(() => peer.lines.length > 0, "the echo");
    expect(peer.lines).toEqual(["echo:ok"]);
    await stillOpen(peer, recorder);
  });
});

describe("hot reload", () => {
  const counterV1 = `import { LineReceiver } from "wirescope";
    export default class Counter extends LineReceiver {
      count = 0;
      lineReceived(line: Buffer) {
        this.count += 1;
        this.sendLine(Buffer.from("v1 " + this.count + " " + line.toString()));
      }
    }`;
  const counterV2 = `import { LineReceiver } from "wirescope";
    export default class Counter extends LineReceiver {
      count = 0;
      bonus = 0;
      lineReceived(line: Buffer) {
        this.count += 1;
        this.sendLine(Buffer.from("v2 " + this.count + " bonus=" + this.bonus + " " + line.toString()));
      }
      rebuilt(previous: object) {
        this.bonus = previous === Counter.prototype ? -1 : 7;
      }
    }`;

  test("live instances get the new code and keep their fields; new connections use the new code", async () => {
    await load("counter.ts", counterV1);
    const { portNumber, recorders } = await serve("counter.ts");
    const peer = await connectPeer(portNumber);
    peer.send("a\r\nb\r\n");
    await waitFor(() => peer.lines.length === 2, "v1 replies");

    await load("counter.ts", counterV2);
    expect(recorders[0]!.events.reloaded).toBe(1);
    expect(recorders[0]!.events.resumed).toBe(0);
    peer.send("c\r\n");
    await waitFor(() => peer.lines.length === 3, "the v2 reply");
    expect(peer.lines).toEqual(["v1 1 a", "v1 2 b", "v2 3 bonus=7 c"]);

    const fresh = await connectPeer(portNumber);
    fresh.send("d\r\n");
    await waitFor(() => fresh.lines.length === 1, "a new connection's reply");
    expect(fresh.lines).toEqual(["v2 1 bonus=0 d"]);
  });

  test("a module that does not evaluate keeps the old code running and says why", async () => {
    await load("counter.ts", counterV1);
    const { portNumber, recorders } = await serve("counter.ts");
    const peer = await connectPeer(portNumber);
    peer.send("a\r\n");
    await waitFor(() => peer.lines.length === 1, "the v1 reply");

    const syntax = await group.load("counter.ts", "export default class {", null);
    expect(syntax.ok).toBe(false);
    if (!syntax.ok) expect(syntax.error).toMatchObject({ code: "EVALUATION_FAILED" });
    if (!syntax.ok) expect(syntax.error.message).toMatch(/^counter\.ts: SyntaxError/);

    const throwing = `import { LineReceiver } from "wirescope";
      export default class Counter extends LineReceiver {}
      throw new Error("not today"); // top-level-marker`;
    const compiled = await compile(throwing, "counter.ts");
    const evaluation = await group.load("counter.ts", compiled.code, compiled.sourceMap);
    expect(evaluation.ok).toBe(false);
    if (!evaluation.ok) {
      expect(evaluation.error.message).toBe(`counter.ts: not today at counter.ts:${lineOf(throwing, "top-level")}:13`);
      expect(evaluation.error.details?.source).toEqual({
        file: "counter.ts",
        line: lineOf(throwing, "top-level"),
        column: 13,
      });
    }
    expect(recorders[0]!.events.reloaded).toBe(0);
    peer.send("b\r\n");
    await waitFor(() => peer.lines.length === 2, "the v1 reply");
    expect(peer.lines).toEqual(["v1 1 a", "v1 2 b"]);
  });
});

describe("reactor calls from user code", () => {
  /** A node:net upstream that answers each chunk with "up:" + chunk. */
  async function upstream(): Promise<{ server: net.Server; port: number; seen: string[] }> {
    const seen: string[] = [];
    const server = net.createServer((socket) => {
      socket.on("data", (data) => {
        seen.push(data.toString());
        socket.write(`up:${data.toString()}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return { server, port: (server.address() as net.AddressInfo).port, seen };
  }

  /** The engine's side: opens the real connection with the core reactor and attaches it. */
  function engineConnects(requests: ConnectRequest[], events: EventLog[]) {
    group.onConnectRequest = (request) => {
      requests.push(request);
      const factory = new ClientFactory();
      factory.buildProtocol = (_addr: Address) => {
        const log = new EventLog();
        events.push(log);
        return request.accept(log);
      };
      factory.clientConnectionFailed = (_connector, reason) => request.fail(reason);
      const connector = reactor.connectTCP(request.host, request.port, factory, { timeout: request.timeout });
      cleanups.push(() => connector.disconnect());
    };
  }

  const relay = (port: number) => `import { ClientFactory, Protocol, reactor } from "wirescope";
    class Relay extends Protocol {
      front!: Front;
      connectionMade() { this.front.upstreamReady(this); }
      dataReceived(data: Uint8Array) { this.front.transport.write(data); }
    }
    export default class Front extends Protocol {
      upstream: Relay | null = null;
      pending: Uint8Array[] = [];
      connectionMade() {
        const factory = new ClientFactory();
        factory.buildProtocol = () => { const relay = new Relay(); relay.front = this; return relay; };
        factory.clientConnectionFailed = (_c, reason) => {
          this.transport.write(Buffer.from("failed: " + reason.name + "\\r\\n"));
        };
        reactor.connectTCP("127.0.0.1", ${port}, factory, { timeout: 5 });
      }
      upstreamReady(relay: Relay) {
        this.upstream = relay;
        for (const data of this.pending) relay.transport.write(data);
        this.pending = [];
      }
      dataReceived(data: Uint8Array) {
        if (this.upstream) this.upstream.transport.write(data);
        else this.pending.push(Buffer.from(data));
      }
    }`;

  test("connectTCP from a protocol opens a real connection through the engine, and relays", async () => {
    const up = await upstream();
    const requests: ConnectRequest[] = [];
    const events: EventLog[] = [];
    engineConnects(requests, events);
    await load("relay.ts", relay(up.port));
    const { portNumber, recorders } = await serve("relay.ts");
    const peer = await connectPeer(portNumber);
    peer.send("ping");
    await waitFor(() => peer.received.toString() === "up:ping", "the relayed reply");
    expect(up.seen).toEqual(["ping"]);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ host: "127.0.0.1", port: up.port, timeout: 5 });
    expect(requests[0]!.parent).toBe(recorders[0]!.inner);
    expect(events[0]!.errors).toEqual([]);
  });

  test("a refused connectTCP reaches the user's clientConnectionFailed", async () => {
    const closed = await upstream();
    await new Promise((resolve) => closed.server.close(resolve));
    engineConnects([], []);
    await load("relay.ts", relay(closed.port));
    const { portNumber } = await serve("relay.ts");
    const peer = await connectPeer(portNumber);
    await waitFor(() => peer.lines.length === 1, "the failure report");
    expect(peer.lines).toEqual(["failed: ConnectionRefusedError"]);
  });

  test("listening from a protocol is refused with a clear error", async () => {
    await load(
      "listens.ts",
      `import { Factory, Protocol, reactor } from "wirescope";
       export default class Listens extends Protocol {
         connectionMade() { reactor.listenTCP(0, new Factory()); }
       }`,
    );
    const { portNumber, recorders } = await serve("listens.ts");
    await connectPeer(portNumber);
    await waitFor(() => recorders[0]?.events.errors.length === 1, "the error");
    expect(recorders[0]!.events.errors[0]!.message).toBe(LISTEN_REFUSED);
  });
});
