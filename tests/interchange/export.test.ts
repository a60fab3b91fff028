/**
 * pcapng export through the engine's contract, over the real WebSocket adapter: sessions with real peers on
 * 127.0.0.1 and ::1 (redis-server, an echo server, a proxy in front of redis), exported, then read by Debian's
 * tshark, which must give back exactly the recorded bytes of each direction, find nothing wrong (checksums,
 * malformed packets, TCP analysis), and show the handshake, the close, the recorded times and the decoded messages.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { exportsDir } from "../../main/workspace/layout.ts";
import type { SessionInfo } from "../../preload/contract.ts";
import { MAX_LISTED_CONNECTIONS } from "../../preload/limits.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, freePort, ok, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { sayAndGo, waitFor } from "../helpers/net.ts";
import { fieldRows, followTcpRaw, hasTshark, problems, tshark } from "./tshark-checks.ts";

const { t, defer, redis, echoServer } = useEngine();
beforeAll(() => {
  if (!hasTshark())
    throw new Error("These tests read exports with tshark: apt-get install tshark (.ci/run does this).");
});

async function session(id: string): Promise<SessionInfo> {
  return ok(await t.api.listSessions({})).find((s) => s.id === id)!;
}

const lost = (conn: number) => (events: TimelineEvent[]) =>
  events.some((e) => e.kind === "lifecycle" && e.event === "lost" && e.conn === conn);

/** RESP's SET with a binary value. */
function set(key: string, value: Buffer): string {
  const head = Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n`);
  return Buffer.concat([head, value, Buffer.from("\r\n")]).toString("base64");
}

/** µs since the Unix epoch from tshark's frame.time_epoch ("1700000000.123456000"), without float rounding. */
function micros(epoch: string): number {
  const [s, frac = ""] = epoch.split(".");
  return Number(s) * 1e6 + Number(frac.padEnd(6, "0").slice(0, 6));
}

/** Every packet comment of a file, read through tshark's JSON output (which escapes what a comment may hold). */
async function comments(file: string): Promise<string[]> {
  const out = await tshark(["-r", file, "-T", "json", "-e", "frame.comment", "-Y", "frame.comment"]);
  const packets = JSON.parse(out) as { _source: { layers: { "frame.comment"?: string[] } } }[];
  return packets.flatMap((p) => p._source.layers["frame.comment"] ?? []);
}

/**
 * Checks one exported TCP stream against the recording of connection `conn`: both directions byte for byte, the
 * client's address first (who sent the SYN), and the packets' times at the recorded times.
 */
async function expectStream(
  file: string,
  stream: number,
  events: TimelineEvent[],
  conn: number,
  info: SessionInfo,
): Promise<void> {
  const connection = info.connections.find((c) => c.conn === conn)!;
  // Wirescope's socket was the client on a leg it opened ("server" leg), the server on one it accepted.
  const weAreClient = connection.leg === "server";
  const followed = await followTcpRaw(file, stream);
  expect(followed.node0).toBe(weAreClient ? connection.host : connection.peer);
  const fromClient = bytesOf(events, conn, weAreClient ? "out" : "in");
  const fromServer = bytesOf(events, conn, weAreClient ? "in" : "out");
  expect(followed.fromNode0.length).toBe(fromClient.length);
  expect(followed.fromNode0.equals(fromClient)).toBe(true);
  expect(followed.fromNode1.length).toBe(fromServer.length);
  expect(followed.fromNode1.equals(fromServer)).toBe(true);

  const at = (tt: number) => Math.round(info.epochMs * 1000 + tt);
  const rows = await fieldRows(file, ["frame.time_epoch"], `tcp.stream == ${stream} && tcp.len > 0`);
  const recorded = events.filter((e) => e.kind === "data" && e.conn === conn).map((e) => at(e.t));
  expect(new Set(rows.map(([time]) => micros(time!)))).toEqual(new Set(recorded));
  const connected = events.find((e) => e.kind === "lifecycle" && e.event === "connected" && e.conn === conn)!;
  const [syn] = await fieldRows(file, ["frame.time_epoch"], `tcp.stream == ${stream} && tcp.flags.syn == 1`);
  expect(micros(syn![0]!)).toBe(at(connected.t));
}

/** "SYN", "SYN-ACK", "FIN" ... of one stream: the flags of its packets that open, close or reset it. */
async function controlPackets(file: string, stream: number): Promise<string[]> {
  const rows = await fieldRows(
    file,
    ["tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset"],
    `tcp.stream == ${stream} && (tcp.flags.syn == 1 || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
  );
  return rows.map(([port, syn, ack, fin, rst]) => {
    const name = syn === "1" ? (ack === "1" ? "SYN-ACK" : "SYN") : fin === "1" ? "FIN" : rst === "1" ? "RST" : "?";
    return `${name} from ${port}`;
  });
}

describe("pcapng export", () => {
  it("exports a client session with redis-server that tshark follows byte for byte, with times and decoded replies", async () => {
    const port = await redis();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port }, protocol: "template:resp" }));
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(200 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 8)) & 0xff;
    const send = async (data: string, encoding: "text" | "base64" = "text") =>
      ok(await t.api.send({ session: s.id, conn: 1, data, encoding }));
    const replies = async (n: number) =>
      waitForTimeline(t.api, s.id, (e) => e.filter((x) => x.kind === "log").length >= n, `${n} replies`);
    await send("PING\\r\\n");
    await replies(1);
    await send(set("bytes", allBytes), "base64");
    await send("*2\\r\\n$3\\r\\nGET\\r\\n$5\\r\\nbytes\\r\\n");
    await replies(3);
    await send(set("big", big), "base64"); // bigger than 64 KiB: several segments each way
    await send("*2\\r\\n$3\\r\\nGET\\r\\n$3\\r\\nbig\\r\\n");
    await replies(5);
    ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, lost(1), "the close");
    const info = await session(s.id);

    const result = ok(await t.api.exportPcapng({ session: s.id, includeData: true }));
    expect(path.dirname(result.path)).toBe(exportsDir(t.workspace));
    expect(path.basename(result.path)).toMatch(/\.pcapng$/);
    const file = fs.readFileSync(result.path);
    expect(result.bytes).toBe(file.length);
    expect(Buffer.from(result.data!).equals(file)).toBe(true);
    expect(result.skipped).toBeUndefined();

    expect(await problems(result.path)).toEqual([]);
    await expectStream(result.path, 0, events, 1, info);
    expect(bytesOf(events, 1, "in").includes(big)).toBe(true); // the GET's reply really carried the big value
    const port0 = info.connections[0]!.host.split(":")[1];
    expect(await controlPackets(result.path, 0)).toEqual([
      `SYN from ${port0}`,
      `SYN-ACK from ${port}`,
      `FIN from ${port0}`,
      `FIN from ${port}`,
    ]);
    const logs = events.flatMap((e) => (e.kind === "log" && e.conn === 1 ? [e.text] : []));
    expect(logs).toHaveLength(5);
    // Each decoded reply, in order, as a packet comment: a NUL written as \0 (Wireshark would end the comment
    // there), a reply longer than a comment can be (64 KiB) cut, with an ellipsis.
    expect(logs.slice(0, 2)).toEqual(["reply PONG", "reply OK"]);
    const shown = await comments(result.path);
    expect(shown).toHaveLength(logs.length);
    shown.forEach((comment, i) => {
      const log = logs[i]!.replaceAll("\0", "\\0");
      if (comment.endsWith("…") && comment !== log) expect(log.startsWith(comment.slice(0, -1))).toBe(true);
      else expect(comment).toBe(log);
    });
    expect(shown.filter((c) => c.endsWith("…"))).toHaveLength(1); // the big value's reply
    expect(result.packets).toBe((await fieldRows(result.path, ["frame.number"])).length);
  }, 60_000);

  it("exports a proxy session's two legs as two streams, each what was on its wire", async () => {
    const upstream = await redis();
    const s = ok(await t.api.proxy({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: upstream } }));
    const port = Number(s.listeningOn!.split(":")[1]);
    const client = net.connect({ host: "127.0.0.1", port });
    defer(() => client.destroy());
    let received = "";
    client.on("data", (d) => (received += d.toString("latin1")));
    client.write("SET greeting hello\r\nGET greeting\r\n");
    await waitFor(() => received === "+OK\r\n$5\r\nhello\r\n", "redis's answers through the proxy");
    client.end();
    const events = await waitForTimeline(t.api, s.id, (e) => lost(1)(e) && lost(2)(e), "both legs to close");
    const info = await session(s.id);

    const result = ok(await t.api.exportPcapng({ session: s.id }));
    expect(result.data).toBeUndefined();
    expect(await problems(result.path)).toEqual([]);
    const streams = await fieldRows(result.path, ["tcp.stream"], "tcp.flags.syn == 1 && tcp.flags.ack == 0");
    expect(streams).toEqual([["0"], ["1"]]);
    await expectStream(result.path, 0, events, 1, info); // the accepted leg: our test client to the proxy
    await expectStream(result.path, 1, events, 2, info); // the upstream leg: the proxy to redis
    expect((await followTcpRaw(result.path, 1)).node1).toBe(`127.0.0.1:${upstream}`);

    // One leg alone: its own file, one stream.
    const leg = ok(await t.api.exportPcapng({ session: s.id, conn: 2 }));
    expect(path.basename(leg.path)).toMatch(/-conn-2\.pcapng$/);
    expect(await fieldRows(leg.path, ["tcp.stream"], "tcp.flags.syn == 1 && tcp.flags.ack == 0")).toEqual([["0"]]);
    await expectStream(leg.path, 0, events, 2, info);
  });

  it("exports an IPv6 connection (::1) as IPv6 packets", async () => {
    const port = await echoServer("::1");
    const s = ok(await t.api.connect({ target: { host: "::1", port } }));
    ok(await t.api.send({ session: s.id, conn: 1, data: "hello over IPv6\\n", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").length === 16, "the echo");
    ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, lost(1), "the close");
    const info = await session(s.id);
    expect(info.connections[0]!.peer).toBe(`[::1]:${port}`);

    const result = ok(await t.api.exportPcapng({ session: s.id }));
    expect(await problems(result.path)).toEqual([]);
    await expectStream(result.path, 0, events, 1, info);
    const rows = await fieldRows(result.path, ["ipv6.src", "ipv6.dst", "ip.src"]);
    expect(rows.every(([src, dst, v4]) => src === "::1" && dst === "::1" && v4 === "")).toBe(true);
  });

  it("shows an aborted connection's RST", async () => {
    const port = await echoServer();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
    ok(await t.api.send({ session: s.id, conn: 1, data: "bye", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").length === 3, "the echo");
    ok(await t.api.abortConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, lost(1), "the abort");
    const info = await session(s.id);

    const result = ok(await t.api.exportPcapng({ session: s.id, conn: 1 }));
    expect(await problems(result.path, ["Connection reset (RST)"])).toEqual([]);
    await expectStream(result.path, 0, events, 1, info);
    const ours = info.connections[0]!.host.split(":")[1];
    expect(await controlPackets(result.path, 0)).toEqual([
      `SYN from ${ours}`,
      `SYN-ACK from ${port}`,
      `RST from ${ours}`,
    ]);
  });

  it("exports every connection of a listener, also those the session list leaves out, and any one of them", async () => {
    const s = ok(await t.api.listen({ target: { port: 0 } }));
    const port = Number(s.listeningOn!.split(":")[1]);
    const clients = MAX_LISTED_CONNECTIONS + 10;
    // One after another, so that client i is connection i + 1.
    for (let i = 0; i < clients; i++) await sayAndGo(port, `client ${i}\n`);
    // Raw connections stay open after the client's FIN (half-closeable): each has its bytes in, none is closed.
    const heard = (events: TimelineEvent[]) =>
      new Set(events.flatMap((e) => (e.kind === "data" && e.dir === "in" ? [e.conn] : []))).size === clients;
    const events = await waitForTimeline(t.api, s.id, heard, `${clients} clients' bytes`);
    const info = await session(s.id);
    expect(info.connections.map((c) => c.conn)).not.toContain(1); // the newest are listed, the oldest counted

    const whole = ok(await t.api.exportPcapng({ session: s.id }));
    expect(await fieldRows(whole.path, ["tcp.stream"], "tcp.flags.syn == 1 && tcp.flags.ack == 0")).toHaveLength(
      clients,
    );
    const first = ok(await t.api.exportPcapng({ session: s.id, conn: 1 }));
    const followed = await followTcpRaw(first.path, 0);
    expect(followed.fromNode0.toString()).toBe("client 0\n");
    expect(followed.fromNode0.equals(bytesOf(events, 1, "in"))).toBe(true);
  }, 60_000);

  it("never overwrites an earlier export, and refuses what can't be exported with a sentence", async () => {
    const port = await echoServer();
    const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port }, name: "echo test" }));
    ok(await t.api.send({ session: s.id, conn: 1, data: "x", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").length === 1, "the echo");
    const first = ok(await t.api.exportPcapng({ session: s.id }));
    const second = ok(await t.api.exportPcapng({ session: s.id }));
    expect([path.basename(first.path), path.basename(second.path)]).toEqual(["echo-test.pcapng", "echo-test-2.pcapng"]);
    // An export of a live connection ends where the recording does: no close, nothing tshark flags.
    expect(await problems(second.path)).toEqual([]);

    expect(await t.api.exportPcapng({ session: "s999" })).toMatchObject({
      ok: false,
      error: { code: "unknown-session" },
    });
    expect(await t.api.exportPcapng({ session: s.id, conn: 7 })).toMatchObject({
      ok: false,
      error: { code: "unknown-connection" },
    });

    const refused = await t.api.connect({ target: { host: "127.0.0.1", port: await freePort() } });
    expect(refused.ok).toBe(false);
    const failed = ok(await t.api.listSessions({})).find((x) => x.state === "failed")!;
    const nothing = await t.api.exportPcapng({ session: failed.id });
    expect(nothing).toMatchObject({ ok: false, error: { code: "nothing-to-export" } });
    if (!nothing.ok) expect(nothing.error.message).toMatch(/connection 1: never connected.*only TCP connections/);
    expect(fs.readdirSync(exportsDir(t.workspace)).sort()).toEqual(["echo-test-2.pcapng", "echo-test.pcapng"]);
  });
});
