/**
 * The engine driven through its contract over the real WebSocket adapter, with real peers on 127.0.0.1:
 * an echo server, redis-server, a proxy in front of redis, a listener taking 200 connections, faults, and malformed
 * commands.
 */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { bytesOf, freePort, ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

const { t, defer, redis, echoServer } = useEngine();

describe("client sessions", () => {
  it("connects to an echo server, sends text with escapes and hex, and records both directions", async () => {
    const port = await echoServer();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
    expect(s).toMatchObject({ kind: "client", state: "connected", protocol: null });
    expect(ok(await t.api.send({ session: s.id, conn: 1, data: "PING\\r\\n", encoding: "text" }))).toEqual({
      bytes: 6,
    });
    ok(await t.api.send({ session: s.id, conn: 1, data: "de ad be ef", encoding: "hex" }));
    const events = await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").length === 10, "the echo");
    expect(bytesOf(events, 1, "out")).toEqual(Buffer.concat([Buffer.from("PING\r\n"), Buffer.from("deadbeef", "hex")]));
    expect(bytesOf(events, 1, "in")).toEqual(bytesOf(events, 1, "out"));
    // Sequence numbers are dense and time never goes backwards.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    for (let i = 1; i < events.length; i++) expect(events[i]!.t).toBeGreaterThanOrEqual(events[i - 1]!.t);
    await waitFor(() => t.received.onTimelineGrew.some((b) => b.some((c) => c.session === s.id)), "a change notice");
    await waitFor(() => t.received.onSessionsChanged.length > 0, "a sessions notice");
  });

  it("records a refused connection and explains it", async () => {
    const port = await freePort();
    const r = await t.api.connect({ target: { endpoint: `tcp:host=127.0.0.1:port=${port}` } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ code: "ConnectionRefusedError" });
    expect(!r.ok && r.error.message).toMatch(
      /Could not connect to tcp:host=127\.0\.0\.1:port=\d+: ConnectionRefusedError/,
    );
    const [session] = ok(await t.api.listSessions({}));
    expect(session).toMatchObject({ state: "failed" });
    const events = await timeline(t.api, session!.id);
    expect(events.map((e) => (e.kind === "lifecycle" ? e.event : e.kind))).toEqual(["connecting", "failed"]);
  });

  it("records a reset in the middle of a stream as a lost connection with its reason", async () => {
    const server = net.createServer((socket) => {
      socket.write("partial");
      socket.on("data", () => socket.resetAndDestroy());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    defer(() => new Promise<void>((r) => server.close(() => r())));
    const s = ok(
      await t.api.connect({ target: { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port } }),
    );
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").toString() === "partial", "first bytes");
    ok(await t.api.send({ session: s.id, conn: 1, data: "go", encoding: "text" }));
    const events = await waitForTimeline(
      t.api,
      s.id,
      (e) => e.some((x) => x.kind === "lifecycle" && x.event === "lost"),
      "the loss",
    );
    const lost = events.find((x) => x.kind === "lifecycle" && x.event === "lost");
    expect(lost && lost.kind === "lifecycle" && lost.detail).toMatch(/^ConnectionLost: .*ECONNRESET/);
    const [session] = ok(await t.api.listSessions({}));
    expect(session!.connections[0]).toMatchObject({ state: "closed", bytesIn: 7, bytesOut: 2 });
  });

  it("speaks to redis-server with raw bytes (RESP inline commands)", async () => {
    const port = await redis();
    const s = ok(await t.api.connect({ target: { endpoint: `tcp:127.0.0.1:${port}` } }));
    ok(
      await t.api.send({
        session: s.id,
        conn: 1,
        data: "PING\\r\\nSET wirescope works\\r\\nGET wirescope\\r\\n",
        encoding: "text",
      }),
    );
    const events = await waitForTimeline(
      t.api,
      s.id,
      (e) => bytesOf(e, 1, "in").toString().endsWith("works\r\n"),
      "replies",
    );
    expect(bytesOf(events, 1, "in").toString()).toBe("+PONG\r\n+OK\r\n$5\r\nworks\r\n");
  });
});

describe("listeners and proxies", () => {
  it("a listener takes 200 connections at once and records every byte", async () => {
    const s = ok(await t.api.listen({ target: { port: 0 } }));
    expect(s.listeningOn).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = Number(s.listeningOn!.split(":")[1]);
    const N = 200;
    let expected = 0;
    const clients: net.Socket[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) => {
        const line = `hello from ${i}\n`;
        expected += line.length;
        return new Promise<void>((resolve, reject) => {
          const c = net.connect({ host: "127.0.0.1", port }, () => {
            c.write(line);
            resolve();
          });
          c.on("error", reject);
          clients.push(c);
        });
      }),
    );
    let info = ok(await t.api.listSessions({}))[0]!;
    const deadline = Date.now() + 10_000;
    while ((info.connections.length < N || info.bytesIn < expected) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      info = ok(await t.api.listSessions({}))[0]!;
    }
    expect(info.connections.length).toBe(N);
    expect(info.bytesIn).toBe(expected);
    // Reply to one of them from the app.
    ok(await t.api.send({ session: s.id, conn: 7, data: "hi 7\\n", encoding: "text" }));
    for (const c of clients) c.destroy();
  });

  it("a listener on a port in use is explained and leaves no session behind", async () => {
    const port = await echoServer();
    const r = await t.api.listen({ target: { port } });
    expect(!r.ok && r.error.code).toBe("cannot-listen");
    expect(!r.ok && r.error.message).toMatch(/EADDRINUSE/);
    expect(ok(await t.api.listSessions({}))).toEqual([]);
  });

  it("proxies a client to redis-server, recording both directions as one conversation", async () => {
    const redisPort = await redis();
    const s = ok(await t.api.proxy({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: redisPort } }));
    const port = Number(s.listeningOn!.split(":")[1]);
    const reply = await new Promise<string>((resolve, reject) => {
      let got = "";
      const c = net.connect({ host: "127.0.0.1", port }, () => c.write("SET k v\r\nGET k\r\n"));
      c.on("data", (d) => {
        got += d.toString();
        if (got.endsWith("v\r\n")) {
          c.end();
          resolve(got);
        }
      });
      c.on("error", reject);
    });
    expect(reply).toBe("+OK\r\n$1\r\nv\r\n");
    const events = await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 2, "in").length === reply.length, "both legs");
    expect(bytesOf(events, 1, "in").toString()).toBe("SET k v\r\nGET k\r\n"); // client -> proxy
    expect(bytesOf(events, 2, "out").toString()).toBe("SET k v\r\nGET k\r\n"); // proxy -> redis
    expect(bytesOf(events, 2, "in").toString()).toBe(reply); // redis -> proxy
    expect(bytesOf(events, 1, "out").toString()).toBe(reply); // proxy -> client
    const info = ok(await t.api.listSessions({}))[0]!;
    expect(info.connections.map((c) => [c.conn, c.leg, c.pairedWith])).toEqual([
      [1, "client", 2],
      [2, "server", 1],
    ]);
  });
});

describe("malformed commands get clear errors and change nothing", () => {
  it("wrong types, unknown session, port 70000, odd hex", async () => {
    const port = await echoServer();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
    const before = await timeline(t.api, s.id);
    const cases = [
      [
        await t.api.connect({ target: { host: "127.0.0.1", port: 70000 } }),
        "invalid-arguments",
        /target\.port: a port is from 0 to 65535/,
      ],
      [
        await t.api.send({ session: "nope", conn: 1, data: "x", encoding: "text" }),
        "unknown-session",
        /no session 'nope'/,
      ],
      [
        await t.api.send({ session: s.id, conn: 1, data: "abc", encoding: "hex" }),
        "bad-send-input",
        /odd number of hex digits/,
      ],
      [
        await t.api.send({ session: s.id, conn: 9, data: "x", encoding: "text" }),
        "unknown-connection",
        /no connection 9/,
      ],
      [
        await t.api.send({ session: s.id, conn: "1" as unknown as number, data: "x", encoding: "text" }),
        "invalid-arguments",
        /conn/,
      ],
      [await t.api.listen({ target: { endpoint: "tcpp:0" } }), "bad-endpoint", /Unknown endpoint type: 'tcpp'/],
      [await t.api.connect({ target: { endpoint: "foo:bar" } }), "bad-endpoint", /Unknown endpoint type: 'foo'/],
    ] as const;
    for (const [result, code, message] of cases) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe(code);
        expect(result.error.message).toMatch(message);
      }
    }
    expect(await timeline(t.api, s.id)).toEqual(before);
    expect(ok(await t.api.listSessions({})).map((x) => x.id)).toEqual([s.id]);
  });
});
