/**
 * Taps on proxy legs (core/protocols/tap.ts), through the engine's contract over the real WebSocket adapter, in
 * front of a real redis-server (or an echo server) on 127.0.0.1: the proxy forwards a tapped leg's bytes itself, and
 * the tap decodes a copy in the sandbox. What a user would notice: replies byte-identical to redis's own, every
 * command and reply on the timeline with spans that give back its exact bytes, replies paired with their commands;
 * a slow tap holds back a bounded backlog and loses nothing; a tap that throws, or writes, is halted while the
 * bytes go on flowing; a hot reload mid-stream changes the decoding, never the bytes.
 */
import * as net from "node:net";
import { beforeEach, describe, expect, it } from "vitest";
import type { LogTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { FLOW_HIGH_WATER, FLOW_LOW_WATER } from "../../main/sandbox/sandboxed-protocol.ts";
import { bytesOf, ok, startProxy, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { exchange, waitFor } from "../helpers/net.ts";

const { t, defer, redis } = useEngine();
let redisPort: number;
beforeEach(async () => {
  redisPort = await redis();
});

const messagesOn = (events: TimelineEvent[], conn: number) =>
  events.filter((e): e is LogTimelineEvent => e.kind === "log" && e.conn === conn && e.spans !== undefined);
const lifecycle = (events: TimelineEvent[], conn: number) =>
  events.flatMap((e) => (e.kind === "lifecycle" && e.conn === conn ? [`${e.event}: ${e.detail}`] : []));

/** Waits until connection `conn` of `session` is halted; resolves with the timeline then. */
function whenHalted(session: string, conn: number, what: string): Promise<TimelineEvent[]> {
  return waitForTimeline(t.api, session, (e) => lifecycle(e, conn).some((l) => l.startsWith("protocol-halted")), what);
}

/** A command as a client library sends it: a RESP array of bulk strings. */
function command(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w, "latin1")}\r\n${w}\r\n`).join("")}`;
}

/** A bulk string reply. */
function bulk(value: string): string {
  return `$${Buffer.byteLength(value, "latin1")}\r\n${value}\r\n`;
}

/** A client connected to `port` for the test's life, collecting what it receives. */
async function client(port: number): Promise<{ socket: net.Socket; received: () => string }> {
  let got = "";
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.on("error", reject);
    defer(() => s.destroy());
  });
  socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
  return { socket, received: () => got };
}

async function save(file: string, content: string) {
  return ok(await t.api.saveProtocol({ path: file, content }));
}

/** Starts a proxy with these leg protocols in front of `upstreamPort` (redis by default); its session id and port. */
function proxy(
  clientProtocol: string | null,
  serverProtocol: string | null,
  upstreamPort = redisPort,
): Promise<{ session: string; port: number }> {
  return startProxy(t.api, upstreamPort, clientProtocol, serverProtocol);
}

/** An echo server on 127.0.0.1 for the test's life; its port. */
async function echoServer(): Promise<number> {
  const echo = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  defer(() => new Promise((r) => echo.close(r)));
  return (echo.address() as net.AddressInfo).port;
}

describe("taps on proxy legs", () => {
  it("resp-tap on both legs in front of redis-server: replies byte-identical, every message with its exact bytes, replies paired", async () => {
    const N = 300;
    const commands: string[] = [];
    for (let i = 0; i < N; i++) {
      commands.push(
        i % 2 === 0 ? command("SET", `key:${i}`, `value ${i} ${"x".repeat(i % 37)}`) : command("GET", `key:${i - 1}`),
      );
    }
    // Chunked at odd places, so commands straddle writes.
    const stream = commands.join("");
    const chunks: string[] = [];
    for (let at = 0, step = 1; at < stream.length; at += step, step = ((step * 7 + 3) % 97) + 1) {
      chunks.push(stream.slice(at, at + step));
    }
    // Redis's own answers to that stream, on a fresh database: what the client must get through the proxy.
    const expected = commands
      .map((_c, i) => (i % 2 === 0 ? "+OK\r\n" : bulk(`value ${i - 1} ${"x".repeat((i - 1) % 37)}`)))
      .join("");
    expect(await exchange(redisPort, [command("FLUSHALL"), stream], 5 + expected.length)).toBe(`+OK\r\n${expected}`);
    await exchange(redisPort, [command("FLUSHALL")], 5);

    const { session, port } = await proxy("template:resp-tap", "template:resp-tap");
    const through = await exchange(port, chunks, expected.length);
    expect(through).toBe(expected);

    const events = await waitForTimeline(t.api, session, (e) => messagesOn(e, 2).length === N, "every reply decoded");
    const sent = bytesOf(events, 1, "in");
    const answered = bytesOf(events, 2, "in");
    expect(sent.toString("latin1")).toBe(stream);
    expect(bytesOf(events, 2, "out").toString("latin1")).toBe(stream);
    expect(bytesOf(events, 1, "out").toString("latin1")).toBe(expected);
    const spanBytes = (e: LogTimelineEvent, of: Buffer) =>
      e.spans!.map((s) => of.subarray(s.offset, s.offset + s.length).toString("latin1")).join("");
    const requests = messagesOn(events, 1);
    const replies = messagesOn(events, 2);
    expect(requests.map((e) => spanBytes(e, sent))).toEqual(commands);
    // The replies' spans, in order, tile what redis sent.
    expect(replies.map((e) => spanBytes(e, answered)).join("")).toBe(expected);
    expect(replies.every((e) => e.spans!.every((s) => s.dir === "in"))).toBe(true);
    // Each reply answers the command of the same rank, on the other leg.
    expect(replies.map((e) => e.pair?.request)).toEqual(requests.map((e) => e.seq));
  });

  it("a slow tap holds back at most about FLOW_HIGH_WATER bytes, and loses none", async () => {
    await save(
      "slow-tap.ts",
      `
import { Tap, type Bytes } from "wirescope";
/** Spends a while on each chunk, and says how many bytes it has been given so far. */
export default class SlowTap extends Tap {
  consumed = 0;
  override dataReceived(data: Bytes): void {
    const until = performance.now() + 2;
    while (performance.now() < until) {}
    this.consumed += data.byteLength;
    this.log.info("consumed {n}", { n: this.consumed });
  }
}
`,
    );
    const { session, port } = await proxy("slow-tap.ts", null, await echoServer());
    const payload = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i / 4, i);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = net.connect({ host: "127.0.0.1", port }, () => c.end(payload));
      c.on("data", (d: Buffer) => chunks.push(d));
      c.on("end", () => resolve(Buffer.concat(chunks)));
      c.on("error", reject);
      defer(() => c.destroy());
    });
    expect(got.equals(payload)).toBe(true);
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => e.some((x) => x.kind === "log" && x.conn === 1 && x.fields["n"] === payload.length),
      "the tap to get every byte",
    );
    // The backlog each time the tap reported: what the leg had read by then (the timeline is in the order the
    // engine saw things) minus what the tap had been given. The worker reports a chunk's consumption in the same
    // batch as what the tap logged on it.
    let received = 0;
    let largest = 0;
    for (const e of events) {
      if (e.conn !== 1) continue;
      if (e.kind === "data" && e.dir === "in") received += e.data.byteLength;
      if (e.kind === "log") largest = Math.max(largest, received - Number(e.fields["n"]));
    }
    // It fell behind (so the bound was what held it), and no further than the high-water mark and one read.
    expect(largest).toBeGreaterThan(FLOW_LOW_WATER);
    expect(largest).toBeLessThanOrEqual(FLOW_HIGH_WATER + 256 * 1024);
  });

  it("a tap that throws is halted, and its leg's bytes go on flowing; a saved fix resumes the decoding", async () => {
    const tap = (fixed: boolean) => `
import { Tap, type Bytes } from "wirescope";
export default class Picky extends Tap {
  override dataReceived(data: Bytes): void {
    const text = Buffer.from(data).toString("latin1");
    ${fixed ? "" : `if (text.startsWith("-")) throw new Error("an error reply");`}
    this.log.info("saw {text}", { text: text.trim() });
  }
}
`;
    await save("picky.ts", tap(false));
    const { session, port } = await proxy(null, "picky.ts");
    const c = await client(port);
    c.socket.write(command("NOSUCHCOMMAND"));
    await waitFor(() => c.received().startsWith("-ERR"), "redis's error reply");
    const events = await whenHalted(session, 2, "the tap to be halted");
    expect(lifecycle(events, 2).find((l) => l.startsWith("protocol-halted"))).toMatch(
      /an error reply at picky\.ts:\d+:\d+.*\(a tap: the proxy still forwards this leg's bytes\)/,
    );
    // Halted, and the replies still reach the client.
    const before = c.received();
    c.socket.write(command("PING"));
    await waitFor(() => c.received() === `${before}+PONG\r\n`, "PONG through the halted tap's leg");
    expect((await save("picky.ts", tap(true))).reloaded).toBe(1);
    await waitForTimeline(
      t.api,
      session,
      (e) => lifecycle(e, 2).includes("protocol-loaded: resumed on the new code"),
      "the tap to resume",
    );
    c.socket.write(command("ECHO", "back"));
    await waitFor(() => c.received() === `${before}+PONG\r\n$4\r\nback\r\n`, "the echo");
    await waitForTimeline(
      t.api,
      session,
      (e) => e.some((x) => x.kind === "log" && x.conn === 2 && x.text === "saw $4\r\nback"),
      "the resumed tap's decoding",
    );
  });

  it("a reload that makes a live leg's class a Tap halts that leg, saying to reconnect, instead of freezing it", async () => {
    const leg = (tap: boolean) => `
import { ${tap ? "Tap" : "Protocol"}, type Bytes } from "wirescope";
export default class Leg extends ${tap ? "Tap" : "Protocol"} {
  override dataReceived(data: Bytes): void {
    ${tap ? "" : "this.transport.write(data);"}
    this.log.info("saw {n}", { n: data.byteLength });
  }
}
`;
    await save("leg.ts", leg(false));
    const { session, port } = await proxy("leg.ts", null, await echoServer());
    const c = await client(port);
    c.socket.write("one");
    await waitFor(() => c.received() === "one", "the echo through the forwarding leg");
    await save("leg.ts", leg(true));
    const events = await whenHalted(session, 1, "the leg to be halted");
    expect(lifecycle(events, 1).find((l) => l.startsWith("protocol-halted"))).toMatch(
      /Leg became a Tap with this reload, and a live proxy leg keeps how it forwards: reconnect/,
    );
    // A new connection runs the tap: the proxy forwards its bytes.
    expect(await exchange(port, ["two"], 3)).toBe("two");
  });

  it("a tap that writes is told so where it wrote, and nothing is sent twice", async () => {
    await save(
      "echoing-tap.ts",
      `
import { Tap, type Bytes } from "wirescope";
export default class EchoingTap extends Tap {
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}
`,
    );
    const { session, port } = await proxy("echoing-tap.ts", null);
    expect(await exchange(port, [command("SET", "k", "v"), command("GET", "k")], 12)).toBe("+OK\r\n$1\r\nv\r\n");
    const events = await whenHalted(session, 1, "the tap to be halted");
    expect(lifecycle(events, 1).find((l) => l.startsWith("protocol-error"))).toMatch(
      /dataReceived: A Tap does not write.* at echoing-tap\.ts:\d+:\d+/,
    );
    expect(bytesOf(events, 2, "out").toString("latin1")).toBe(command("SET", "k", "v") + command("GET", "k"));
  });

  it("hot-reloads a tap mid-stream: the decoding changes, the bytes never stop nor change", async () => {
    const tap = (version: number) => `
import { Tap, type Bytes } from "wirescope";
export default class Counter extends Tap {
  seen = 0;
  override dataReceived(data: Bytes): void {
    this.seen += data.byteLength;
    this.log.info("v${version} seen {n}", { n: this.seen });
  }
}
`;
    await save("counter.ts", tap(1));
    const { session, port } = await proxy("counter.ts", null);
    const c = await client(port);
    let sent = 0;
    const ping = async () => {
      c.socket.write(command("PING"));
      sent += 1;
      await waitFor(() => c.received().length === sent * 7, `PONG ${sent}`);
    };
    // One PING per round trip: 30 on the old code, more while the new one is saved and loaded, 30 on the new.
    for (let i = 0; i < 30; i++) await ping();
    let saved = false;
    const saving = save("counter.ts", tap(2)).then((result) => ((saved = true), result));
    while (!saved) await ping();
    expect((await saving).reloaded).toBe(1);
    for (let i = 0; i < 30; i++) await ping();
    expect(c.received()).toBe("+PONG\r\n".repeat(sent));
    // The tap is given what arrived, however it is chunked on its way: it counts bytes, not chunks.
    const PING = command("PING").length;
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => e.some((x) => x.kind === "log" && x.conn === 1 && x.fields["n"] === sent * PING),
      "every byte decoded",
    );
    const logged = events.flatMap((e) =>
      e.kind === "log" && e.conn === 1 ? [{ version: e.text.slice(0, 2), n: Number(e.fields["n"]) }] : [],
    );
    const firstV2 = logged.findIndex((l) => l.version === "v2");
    // The old code decoded what came before the save, the new code what came after it was loaded...
    expect(logged.slice(0, firstV2).every((l) => l.version === "v1")).toBe(true);
    expect(logged.slice(firstV2).every((l) => l.version === "v2")).toBe(true);
    expect(logged[firstV2 - 1]!.n).toBeGreaterThanOrEqual(30 * PING);
    expect(logged[firstV2 - 1]!.n).toBeLessThanOrEqual((sent - 30) * PING);
    // ...on the same instance: its count goes on across the reload, nothing decoded twice or skipped.
    expect(logged.every((l, i) => i === 0 || l.n > logged[i - 1]!.n)).toBe(true);
    expect(lifecycle(events, 1)).toContain("protocol-reloaded: counter.ts");
    expect(bytesOf(events, 2, "out").toString("latin1")).toBe(command("PING").repeat(sent));
  });
});
