/**
 * Offline decoding through the engine's contract, over the real WebSocket adapter: a real redis-server session
 * recorded and decoded again with the RESP template, re-split runs, a fragile protocol, a decoder that never returns,
 * and a protocol on reactor time decoded twice on the virtual clock.
 */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import type { LogTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";

const { t, defer, redis } = useEngine();

const logs = (events: TimelineEvent[]) => events.flatMap((e) => (e.kind === "log" ? [e.text] : []));
/** What the protocol logged, without the decoder's own lines about what it would have sent ("would write ..."). */
const decoded = (events: TimelineEvent[]) => logs(events).filter((l) => !/^(\w+: )?would /.test(l));
const lifecycle = (events: TimelineEvent[]) =>
  events.flatMap((e) => (e.kind === "lifecycle" ? [`${e.event}: ${e.detail}`] : []));

/** Records a client session of the RESP template against a real redis-server: PING, SET, GET, one at a time. */
async function recordRedis(): Promise<{ session: string; redisPort: number }> {
  const redisPort = await redis();
  const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port: redisPort }, protocol: "template:resp" }));
  const commands = ["PING\\r\\n", "SET greeting hello\\r\\n", "GET greeting\\r\\n"];
  for (const [i, data] of commands.entries()) {
    ok(await t.api.send({ session: s.id, conn: 1, data, encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => logs(e).length > i, `reply ${i + 1}`);
  }
  ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
  await waitForTimeline(t.api, s.id, (e) => lifecycle(e).some((l) => l.startsWith("lost")), "the close");
  return { session: s.id, redisPort };
}

/** Records a listener session (raw bytes) that a node:net client sends `chunks` to, `gapMs` apart. */
async function recordListener(chunks: string[], gapMs: number): Promise<string> {
  const s = ok(await t.api.listen({ target: { port: 0 } }));
  const port = Number(s.listeningOn!.split(":")[1]);
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  socket.end();
  await waitForTimeline(t.api, s.id, (e) => lifecycle(e).some((l) => l.startsWith("read-closed")), "the FIN");
  ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
  await waitForTimeline(t.api, s.id, (e) => lifecycle(e).some((l) => l.startsWith("lost")), "the close");
  return s.id;
}

describe("decoding a recorded redis-server session", () => {
  it("decodes the replies as the live session did, and 50 re-split runs agree", async () => {
    const { session } = await recordRedis();
    const live = logs(await timeline(t.api, session));
    expect(live).toEqual(["reply PONG", "reply OK", "reply hello"]);

    const result = ok(
      await t.api.decode({ session, conn: 1, protocol: "resp.ts", side: "client", resplit: { runs: 50, seed: 7 } }),
    );
    expect(result.session).toMatchObject({ kind: "decode", state: "closed", protocol: "resp.ts" });
    expect(result.session.source).toMatch(/connection 1, decoded with resp\.ts$/);
    const events = await timeline(t.api, result.session.id);
    expect(decoded(events)).toEqual(live);
    // The bytes are on the decode's timeline as on the live one; each reply right after the bytes that completed it.
    const replies = events.filter((e) => e.kind === "log" && e.text.startsWith("reply"));
    for (const reply of replies) {
      const before = events[events.indexOf(reply) - 1]!;
      expect(before).toMatchObject({ kind: "data", dir: "in", t: reply.t });
    }
    expect(result.resplit).toEqual({ runs: 50, seed: 7, consistent: true, mismatches: [] });
  });

  it("decodes as the server too, and both ways at once; a proxy tap runs its leg classes", async () => {
    const { session } = await recordRedis();
    const server = ok(await t.api.decode({ session, conn: 1, protocol: "template:resp-tap", side: "server" }));
    const serverLogs = logs(await timeline(t.api, server.session.id));
    // ClientLeg decodes commands; it is a Tap, so it writes nothing (on a proxy the proxy forwards for it).
    expect(serverLogs.filter((l) => l.startsWith("command"))).toEqual([
      "command PING",
      "command SET greeting hello",
      "command GET greeting",
    ]);
    expect(serverLogs.filter((l) => l.startsWith("would write"))).toEqual([]);
    expect(server.session.connections[0]!.protocol).toMatchObject({ file: "resp-tap.ts", className: "ClientLeg" });

    const both = ok(await t.api.decode({ session, conn: 1, protocol: "resp-tap.ts", side: "both" }));
    const bothLogs = decoded(await timeline(t.api, both.session.id));
    expect(bothLogs).toEqual([
      "server: command PING",
      "client: reply PONG",
      "server: command SET greeting hello",
      "client: reply OK",
      "server: command GET greeting",
      "client: reply hello",
    ]);
  });
});

describe("decoding a proxy's legs", () => {
  it("decodes either leg of a proxy in front of redis-server", async () => {
    const redisPort = await redis();
    const proxy = ok(await t.api.proxy({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: redisPort } }));
    const socket = net.connect({ host: "127.0.0.1", port: Number(proxy.listeningOn!.split(":")[1]) });
    defer(() => socket.destroy());
    let received = "";
    socket.on("data", (d) => (received += d.toString()));
    socket.write("PING\r\n");
    await waitForTimeline(t.api, proxy.id, () => received === "+PONG\r\n", "PONG through the proxy");
    socket.end();
    await waitForTimeline(
      t.api,
      proxy.id,
      (e) => lifecycle(e).filter((l) => l.startsWith("lost")).length === 2,
      "both legs closed",
    );
    for (const conn of [1, 2]) {
      const { session } = ok(
        await t.api.decode({ session: proxy.id, conn, protocol: "template:resp-tap", side: "both" }),
      );
      expect(decoded(await timeline(t.api, session.id))).toEqual(["server: command PING", "client: reply PONG"]);
    }
  });
});

const FRAGILE = `
import { Protocol } from "wirescope";
/** Wrong on purpose: takes each chunk for one message. */
export default class Fragile extends Protocol {
  override dataReceived(data: Buffer): void {
    this.log.info("message {text}", { text: data.toString("latin1") });
  }
}
`;

describe("re-splitting", () => {
  it("shows a protocol that takes each chunk for a message as inconsistent, run by run", async () => {
    const { session } = await recordRedis();
    ok(await t.api.saveProtocol({ path: "fragile.ts", content: FRAGILE }));
    const args = { session, conn: 1, protocol: "fragile.ts", side: "client", resplit: { runs: 20, seed: 1 } } as const;
    const { resplit } = ok(await t.api.decode(args));
    expect(resplit!.consistent).toBe(false);
    expect(resplit!.mismatches.length).toBeGreaterThan(10);
    const first = resplit!.mismatches[0]!;
    expect(first.message).toMatch(new RegExp(`^run ${first.run}: message \\d+ (differs|is missing|is extra)`));
    expect(resplit!.mismatches.some((m) => /differs: expected 'message \+PONG\\r\\n', got '/.test(m.message))).toBe(
      true,
    );
    // The same seed gives the same cuts, so the same report.
    expect(ok(await t.api.decode(args)).resplit).toEqual(resplit);
  });
});

const IDLE = `
import { type IDelayedCall, Protocol, reactor } from "wirescope";
/** Takes what arrives until the sender pauses for 250 ms (reactor time) as one message. */
export default class Idle extends Protocol {
  private text = "";
  private pause: IDelayedCall | null = null;
  override dataReceived(data: Buffer): void {
    this.text += data.toString("latin1");
    this.pause?.cancel();
    this.pause = reactor.callLater(0.25, () => {
      this.log.info("message {text}", { text: this.text });
      this.text = "";
      this.pause = null;
    });
  }
}
`;

describe("re-splitting a protocol on reactor time", () => {
  it("keeps bytes sent apart in time apart: a protocol that frames by pauses is consistent", async () => {
    const session = await recordListener(["hello", "world"], 600);
    ok(await t.api.saveProtocol({ path: "idle.ts", content: IDLE }));
    const args = { session, conn: 1, protocol: "idle.ts", side: "server", resplit: { runs: 50, seed: 3 } } as const;
    const result = ok(await t.api.decode(args));
    expect(decoded(await timeline(t.api, result.session.id))).toEqual(["message hello", "message world"]);
    expect(result.resplit).toEqual({ runs: 50, seed: 3, consistent: true, mismatches: [] });
  });
});

describe("a decoder that never returns", () => {
  it("is stopped with a clear error naming its line, and the engine answers meanwhile", async () => {
    const { session } = await recordRedis();
    const loop = `import { Protocol } from "wirescope";
export default class Loop extends Protocol {
  override dataReceived(_data: Buffer): void {
    for (;;) {}
  }
}
`;
    ok(await t.api.saveProtocol({ path: "loop.ts", content: loop }));
    const decoding = t.api.decode({ session, conn: 1, protocol: "loop.ts", side: "client" });
    let decoded = false;
    void decoding.then(() => (decoded = true));
    // While the decoder spins in its worker, the engine answers other commands.
    const sessions = ok(await t.api.listSessions({}));
    expect(sessions.length).toBeGreaterThan(0);
    expect(decoded).toBe(false);
    const result = await decoding;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("decoder-stopped");
    expect(result.error.message).toMatch(/loop\.ts was stopped while decoding: .*infinite loop.* at loop\.ts:4:\d+/);
    // The decode session shows how far it got.
    const failed = ok(await t.api.listSessions({})).find((s) => s.kind === "decode")!;
    expect(failed).toMatchObject({ state: "failed" });
    expect(lifecycle(await timeline(t.api, failed.id)).some((l) => l.startsWith("protocol-halted"))).toBe(true);
  });
});

const TIMED = `
import { LineReceiver, reactor } from "wirescope";
/** Logs each line, then again 250 ms later (reactor time), with what seconds() read. */
export default class Timed extends LineReceiver {
  override connectionMade(): void {
    this.log.info("opened at {s}", { s: reactor.seconds() });
  }
  override lineReceived(line: Buffer): void {
    const text = line.toString();
    const at = reactor.seconds();
    this.log.info("line {text}", { text, at });
    reactor.callLater(0.25, () => this.log.info("later {text}", { text, at: reactor.seconds(), after: reactor.seconds() - at }));
  }
}
`;

describe("the virtual clock", () => {
  it("puts a protocol's timed log lines at the recorded times, the same in two decodes", async () => {
    const session = await recordListener(["one\r\n", "two\r\n", "three\r\n"], 400);
    ok(await t.api.saveProtocol({ path: "timed.ts", content: TIMED }));
    const decodeOnce = async () => {
      const { session: s } = ok(await t.api.decode({ session, conn: 1, protocol: "timed.ts", side: "server" }));
      return timeline(t.api, s.id);
    };
    const first = await decodeOnce();
    const second = await decodeOnce();
    const shape = (events: TimelineEvent[]) =>
      events.map((e) => (e.kind === "log" ? { t: e.t, text: e.text, fields: e.fields } : { t: e.t, kind: e.kind }));
    expect(shape(second)).toEqual(shape(first));

    const data = first.filter((e) => e.kind === "data");
    const logged = (text: string) => first.find((e) => e.kind === "log" && e.text === text) as LogTimelineEvent;
    for (const [i, text] of ["one", "two", "three"].entries()) {
      // A line is decoded at the time its bytes arrived; its callLater fires 250 ms of reactor time later.
      expect(logged(`line ${text}`).t).toBe(data[i]!.t);
      expect(logged(`later ${text}`).t).toBe(data[i]!.t + 250_000);
      expect(logged(`later ${text}`).fields["after"]).toBeCloseTo(0.25, 6);
    }
    // reactor.seconds() read the wall-clock time the connection was made.
    const epochMs = ok(await t.api.listSessions({})).find((s) => s.id === session)!.epochMs;
    const opened = first.find((e) => e.kind === "log" && e.text.startsWith("opened at")) as LogTimelineEvent;
    const connected = first.find((e) => e.kind === "lifecycle" && e.event === "connected")!;
    expect((opened.fields["s"] as number) * 1000).toBeCloseTo(epochMs + connected.t / 1000, 3);
  });
});

describe("what goes wrong", () => {
  it("shows a decoder's error with its source line and the halt; bad requests get clear errors", async () => {
    const { session } = await recordRedis();
    const thrower = `import { Protocol } from "wirescope";
export default class Thrower extends Protocol {
  count = 0;
  override dataReceived(_data: Buffer): void {
    if (++this.count === 2) throw new Error("second chunk");
    this.log.info("chunk {n}", { n: this.count });
  }
}
`;
    ok(await t.api.saveProtocol({ path: "thrower.ts", content: thrower }));
    const { session: s } = ok(await t.api.decode({ session, conn: 1, protocol: "thrower.ts", side: "client" }));
    const events = await timeline(t.api, s.id);
    expect(decoded(events)).toEqual(["chunk 1"]);
    expect(lifecycle(events)).toContainEqual(
      expect.stringMatching(/^protocol-error: dataReceived: second chunk at thrower\.ts:5:\d+$/),
    );
    expect(lifecycle(events)).toContainEqual(expect.stringMatching(/^protocol-halted: second chunk at thrower\.ts:5/));
    expect(s.connections[0]!.protocol).toMatchObject({ state: "halted" });

    const missing = await t.api.decode({ session, conn: 1, protocol: "nope.ts", side: "client" });
    expect(missing).toMatchObject({
      ok: false,
      error: { code: "not-found", message: expect.stringMatching(/nope\.ts/) },
    });
    const noConn = await t.api.decode({ session, conn: 9, protocol: "resp.ts", side: "client" });
    expect(noConn).toMatchObject({ ok: false, error: { code: "unknown-connection" } });
    ok(await t.api.saveProtocol({ path: "broken.ts", content: "export default class {" }));
    const broken = await t.api.decode({ session, conn: 1, protocol: "broken.ts", side: "client" });
    expect(broken).toMatchObject({ ok: false, error: { code: "compile-error" } });
    // None of them left a session behind.
    expect(ok(await t.api.listSessions({})).filter((x) => x.kind === "decode")).toHaveLength(1);
  });
});
