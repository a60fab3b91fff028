/**
 * Protocols on proxy legs, through the engine's contract over the real WebSocket adapter, in front of a real
 * redis-server on 127.0.0.1: the resp-tap template on both legs, a protocol that rewrites what passes, a protocol
 * that throws (halted: its leg forwards nothing until a saved fix resumes it), a hot reload on a live proxied
 * connection, and a client's half-close passed on after what the protocol forwards.
 */
import * as net from "node:net";
import { beforeEach, describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, ok, startProxy, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { exchange, waitFor } from "../helpers/net.ts";

const { t, defer, redis } = useEngine();
let redisPort: number;
beforeEach(async () => {
  redisPort = await redis();
});

const logsOn = (events: TimelineEvent[], conn: number) =>
  events.flatMap((e) => (e.kind === "log" && e.conn === conn ? [e.text] : []));
const lifecycle = (events: TimelineEvent[], conn: number) =>
  events.flatMap((e) => (e.kind === "lifecycle" && e.conn === conn ? [`${e.event}: ${e.detail}`] : []));

/** A plain node:net client of the proxy: sends, collects what comes back. */
class Client {
  received = "";
  ended = false;
  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d) => (this.received += d.toString("latin1")));
    socket.on("end", () => (this.ended = true));
    socket.on("error", () => {});
    defer(() => socket.destroy());
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(new Client(s)));
      s.on("error", reject);
    });
  }
  async until(text: string): Promise<void> {
    await waitFor(
      () => this.received === text,
      `the client to have received ${JSON.stringify(text)} (has ${JSON.stringify(this.received)})`,
    );
  }
}

/** Asks redis-server directly (not through the proxy). */
function askRedis(command: string, expectedLength: number): Promise<string> {
  return exchange(redisPort, [command], expectedLength);
}

async function save(path: string, content: string) {
  return ok(await t.api.saveProtocol({ path, content }));
}

/** Starts a proxy in front of redis-server with these leg protocols; returns its session id and port. */
function proxy(clientProtocol?: string, serverProtocol?: string): Promise<{ session: string; port: number }> {
  return startProxy(t.api, redisPort, clientProtocol, serverProtocol);
}

async function connections(session: string) {
  return ok(await t.api.listSessions({})).find((s) => s.id === session)!.connections;
}

describe("protocols on proxy legs", () => {
  it("resp-tap on both legs: the client gets redis's answers; commands and replies are decoded beside the bytes", async () => {
    const { session, port } = await proxy("template:resp-tap", "template:resp-tap");
    const client = await Client.connect(port);
    client.socket.write("SET greeting hello\r\nGET greeting\r\n");
    await client.until("+OK\r\n$5\r\nhello\r\n");
    const events = await waitForTimeline(t.api, session, (e) => logsOn(e, 2).length === 2, "the decoded replies");
    expect(logsOn(events, 1)).toEqual(["command SET greeting hello", "command GET greeting"]);
    expect(logsOn(events, 2)).toEqual(["reply OK", "reply hello"]);
    // The bytes pass unchanged, recorded on both legs.
    expect(bytesOf(events, 1, "in").toString()).toBe("SET greeting hello\r\nGET greeting\r\n");
    expect(bytesOf(events, 2, "out").toString()).toBe("SET greeting hello\r\nGET greeting\r\n");
    expect(bytesOf(events, 2, "in").toString()).toBe("+OK\r\n$5\r\nhello\r\n");
    expect(bytesOf(events, 1, "out").toString()).toBe("+OK\r\n$5\r\nhello\r\n");
    // Each decoded message comes after the bytes it was decoded from.
    const firstIndex = (conn: number, what: (e: TimelineEvent) => boolean) =>
      events.findIndex((e) => e.conn === conn && what(e));
    expect(firstIndex(1, (e) => e.kind === "log")).toBeGreaterThan(firstIndex(1, (e) => e.kind === "data"));
    expect(firstIndex(2, (e) => e.kind === "log")).toBeGreaterThan(
      firstIndex(2, (e) => e.kind === "data" && e.dir === "in"),
    );
    // One file on both legs: each runs its leg's export.
    expect((await connections(session)).map((c) => [c.conn, c.leg, c.state, c.protocol])).toEqual([
      [1, "client", "connected", { file: "resp-tap.ts", className: "ClientLeg", state: "running" }],
      [2, "server", "connected", { file: "resp-tap.ts", className: "ServerLeg", state: "running" }],
    ]);
    // The template brought the decoder it imports along.
    expect(ok(await t.api.listProtocols({})).map((f) => f.path)).toEqual(["resp-tap.ts", "resp.ts"]);
  });

  it("a protocol on the client leg rewrites what reaches redis: the upstream leg records what was really sent", async () => {
    await save(
      "upper-set.ts",
      `
import { LineReceiver } from "wirescope";
/** Upper-cases the value of every inline SET on its way to redis; other lines pass as they are. */
export default class UpperSet extends LineReceiver {
  override lineReceived(line: Buffer): void {
    const words = line.toString().split(" ");
    if (words.length === 3 && words[0]!.toUpperCase() === "SET") {
      words[2] = words[2]!.toUpperCase();
      this.log.info("rewrote SET {key}", { key: words[1] });
    }
    this.sendLine(Buffer.from(words.join(" ")));
  }
}
`,
    );
    const { session, port } = await proxy("upper-set.ts");
    const client = await Client.connect(port);
    client.socket.write("SET greeting hello\r\nGET greeting\r\n");
    await client.until("+OK\r\n$5\r\nHELLO\r\n");
    const events = await timeline(t.api, session);
    expect(bytesOf(events, 1, "in").toString()).toBe("SET greeting hello\r\nGET greeting\r\n");
    expect(bytesOf(events, 2, "out").toString()).toBe("SET greeting HELLO\r\nGET greeting\r\n");
    expect(bytesOf(events, 2, "in").toString()).toBe("+OK\r\n$5\r\nHELLO\r\n"); // raw server leg: relayed
    expect(bytesOf(events, 1, "out").toString()).toBe("+OK\r\n$5\r\nHELLO\r\n");
    expect(logsOn(events, 1)).toEqual(["rewrote SET greeting"]);
    expect(await askRedis("GET greeting\r\n", 11)).toBe("$5\r\nHELLO\r\n");
  });

  it("a protocol that throws on the server leg is halted there: the pair stays open, that leg forwards nothing until a fix is saved", async () => {
    const guard = (refuse: boolean) => `
import { Protocol, type Bytes } from "wirescope";
/** Passes replies on to the client${refuse ? ", refusing error replies" : ""}. */
export default class Guard extends Protocol {
  override dataReceived(data: Bytes): void {
    ${refuse ? `if (Buffer.from(data).toString().startsWith("-")) throw new Error("an error reply");` : ""}
    this.transport.write(data);
  }
}
`;
    await save("guard.ts", guard(true));
    const { session, port } = await proxy(undefined, "guard.ts");
    const client = await Client.connect(port);
    client.socket.write("PING\r\n");
    await client.until("+PONG\r\n");

    client.socket.write("NOSUCHCOMMAND\r\n");
    let events = await waitForTimeline(
      t.api,
      session,
      (e) => lifecycle(e, 2).some((l) => l.startsWith("protocol-halted")),
      "the server leg's protocol to be halted",
    );
    expect(lifecycle(events, 2).find((l) => l.startsWith("protocol-error"))).toMatch(
      /dataReceived: an error reply at guard\.ts:\d+:\d+/,
    );
    // While halted, what redis sends is recorded on its leg and goes no further: the protocol owns forwarding there.
    client.socket.write("PING\r\n");
    events = await waitForTimeline(
      t.api,
      session,
      (e) => bytesOf(e, 2, "in").toString().endsWith("+PONG\r\n"),
      "the second PONG on the server leg",
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(client.received).toBe("+PONG\r\n");
    expect(bytesOf(await timeline(t.api, session), 1, "out").toString()).toBe("+PONG\r\n");
    const halted = await connections(session);
    expect(halted.map((c) => [c.conn, c.state, c.protocol?.state ?? null])).toEqual([
      [1, "connected", null],
      [2, "connected", "halted"],
    ]);
    expect(halted[1]!.protocol?.halted).toMatch(/an error reply/);

    // The fix resumes that same connection: what redis sends from now on is forwarded again.
    expect((await save("guard.ts", guard(false))).reloaded).toBe(1);
    await waitForTimeline(
      t.api,
      session,
      (e) => lifecycle(e, 2).includes("protocol-loaded: resumed on the new code"),
      "the server leg to resume",
    );
    client.socket.write("ECHO back\r\n");
    await client.until("+PONG\r\n$4\r\nback\r\n");
    expect((await connections(session)).map((c) => [c.conn, c.state, c.protocol?.state ?? null])).toEqual([
      [1, "connected", null],
      [2, "connected", "running"],
    ]);
  });

  it("hot-reloads a leg's protocol on a live proxied connection, keeping its fields", async () => {
    const tag = (version: number, rewrite: string) => `
import { Protocol, type Bytes } from "wirescope";
export default class Tag extends Protocol {
  chunks = 0;
  override dataReceived(data: Bytes): void {
    this.chunks += 1;
    this.log.info("v${version} chunk {n}", { n: this.chunks });
    this.transport.write(Buffer.from(${rewrite}));
  }
}
`;
    await save("tag.ts", tag(1, "data"));
    const { session, port } = await proxy("tag.ts");
    const client = await Client.connect(port);
    client.socket.write("SET k one\r\n");
    await client.until("+OK\r\n");

    expect((await save("tag.ts", tag(2, `Buffer.from(data).toString().replace("one", "two")`))).reloaded).toBe(1);
    client.socket.write("SET k one\r\nGET k\r\n");
    await client.until("+OK\r\n+OK\r\n$3\r\ntwo\r\n");
    const events = await timeline(t.api, session);
    expect(logsOn(events, 1)).toEqual(["v1 chunk 1", "v2 chunk 2"]);
    expect(lifecycle(events, 1)).toContain("protocol-reloaded: tag.ts");
    expect(bytesOf(events, 2, "out").toString()).toBe("SET k one\r\nSET k two\r\nGET k\r\n");
    expect((await connections(session)).map((c) => [c.conn, c.state])).toEqual([
      [1, "connected"],
      [2, "connected"],
    ]);
  });

  it("heavy traffic through sandboxed passthroughs on both legs, to a slow client: no byte lost or duplicated", async () => {
    const echo = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    defer(() => new Promise((r) => echo.close(r)));
    await save(
      "pass.ts",
      `
import { Protocol, type Bytes } from "wirescope";
export default class Pass extends Protocol {
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}
`,
    );
    const s = ok(
      await t.api.proxy({
        listen: { port: 0 },
        upstream: { host: "127.0.0.1", port: (echo.address() as net.AddressInfo).port },
        clientProtocol: "pass.ts",
        serverProtocol: "pass.ts",
      }),
    );
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i / 4, i);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      const c = net.connect({ host: "127.0.0.1", port: Number(s.listeningOn!.split(":")[1]) }, () => {
        c.pause(); // A slow client: reads nothing for a while.
        c.end(payload);
        setTimeout(() => c.resume(), 300);
      });
      c.on("data", (d: Buffer) => {
        chunks.push(d);
        n += d.length;
      });
      c.on("end", () => resolve(Buffer.concat(chunks, n)));
      c.on("error", reject);
      defer(() => c.destroy());
    });
    expect(got.length).toBe(payload.length);
    expect(got.equals(payload)).toBe(true);
    let legs = await connections(s.id);
    for (const deadline = Date.now() + 10_000; legs.some((c) => c.state !== "closed") && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 20));
      legs = await connections(s.id);
    }
    expect(legs.map((c) => [c.bytesIn, c.bytesOut])).toEqual([
      [payload.length, payload.length],
      [payload.length, payload.length],
    ]);
  });

  it("a template's first load is its only one: saving the file it brought, unchanged, reloads nothing", async () => {
    const { session, port } = await proxy("template:resp-tap", "template:resp-tap");
    const client = await Client.connect(port);
    defer(() => client.socket.destroy());
    client.socket.write("PING\r\n");
    await waitFor(() => client.received === "+PONG\r\n", "redis's answer");
    // What the watcher does when it reports resp.ts, which the template wrote: resp-tap.ts imports it, and its
    // code is the same as the one the session loaded at its start.
    const source = ok(await t.api.readProtocol({ path: "resp.ts" })).content;
    await save("resp.ts", source);
    // A reload would tell each live connection in the worker's next batch, and the watcher's echo comes later.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const events = await timeline(t.api, session);
    expect(events.filter((e) => e.kind === "lifecycle" && e.event === "protocol-reloaded")).toEqual([]);
  });

  it("a client that sends and half-closes still gets its answer through protocol legs", async () => {
    const { session, port } = await proxy("template:resp-tap", "template:resp-tap");
    const client = await Client.connect(port);
    client.socket.end("SET k v\r\nGET k\r\n");
    await waitFor(() => client.ended, "the proxy to close the client's connection");
    expect(client.received).toBe("+OK\r\n$1\r\nv\r\n");
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => lifecycle(e, 1).some((l) => l.startsWith("lost")),
      "both legs closed",
    );
    // The FIN went upstream after the commands; redis answered, then closed.
    expect(lifecycle(events, 2).map((l) => l.split(":")[0])).toEqual([
      "connecting",
      "connected",
      "write-closed",
      "read-closed",
      "lost",
    ]);
    expect(logsOn(events, 2)).toEqual(["reply OK", "reply v"]);
  });
});
