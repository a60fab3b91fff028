/**
 * Replay through the engine's contract, over the real WebSocket adapter: a recorded redis-server session's client
 * side sent again to the same redis-server after a key changed, its server side played to a plain node:net client,
 * and a target that refuses.
 */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import type { ReplayReport } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { bytesOf, freePort, ok, timeline, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

const { t, defer, redis } = useEngine();

const COMMANDS = ["PING\r\n", "SET greeting hello\r\n", "GET color\r\n"];
const ANSWERS = ["+PONG\r\n", "+OK\r\n", "$3\r\nred\r\n"];

/** A plain client: sends, and collects what comes back. */
async function plainClient(port: number): Promise<{ socket: net.Socket; received: () => string }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  let received = "";
  socket.on("data", (d) => (received += d.toString("latin1")));
  socket.on("error", () => {});
  defer(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => received };
}

/** Sends one command to redis-server directly (not recorded) and waits for its answer. */
async function redisCommand(port: number, command: string): Promise<void> {
  const client = await plainClient(port);
  client.socket.write(command);
  await waitFor(() => client.received().endsWith("\r\n"), `redis to answer ${command}`);
  client.socket.destroy();
}

/**
 * Records a raw client session against redis-server: the three commands, each after the previous answer (the key
 * "color" is set to "red" first).
 */
async function recordRedis(port: number): Promise<string> {
  await redisCommand(port, "SET color red\r\n");
  const s = ok(await t.api.connect({ target: { host: "127.0.0.1", port } }));
  let expected = "";
  for (const [i, command] of COMMANDS.entries()) {
    const escaped = command.replace(/\r\n$/, "\\r\\n");
    ok(await t.api.send({ session: s.id, conn: 1, data: escaped, encoding: "text" }));
    expected += ANSWERS[i]!;
    await waitForTimeline(t.api, s.id, (e) => bytesOf(e, 1, "in").toString() === expected, `answer ${i + 1}`);
  }
  ok(await t.api.closeConnection({ session: s.id, conn: 1 }));
  await waitForTimeline(t.api, s.id, (e) => e.some((x) => x.kind === "lifecycle" && x.event === "lost"), "the close");
  return s.id;
}

/** Reads a replay's report every 20 ms until it says done or failed. */
async function untilDone(session: string): Promise<ReplayReport> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const report = ok(await t.api.replayReport({ session }));
    if (report.state !== "running") return report;
    if (Date.now() > deadline) throw new Error(`the replay did not finish: ${JSON.stringify(report)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const out = (events: TimelineEvent[]) => bytesOf(events, 1, "out").toString("latin1");

describe("replaying the client side", () => {
  it("sends the recorded commands again and shows the one answer that changed, at the byte it changed", async () => {
    const redisPort = await redis();
    const recorded = await recordRedis(redisPort);
    await redisCommand(redisPort, "SET color blu\r\n");

    const replay = ok(
      await t.api.replay({
        session: recorded,
        conn: 1,
        side: "client",
        target: { host: "127.0.0.1", port: redisPort },
      }),
    );
    expect(replay).toMatchObject({ kind: "replay", source: expect.stringMatching(/connection 1, client side$/) });
    const report = await untilDone(replay.id);
    expect(report.state).toBe("done");
    expect(report.exchanges.map((e) => [text(e.sent), text(e.expected), text(e.actual), e.same])).toEqual([
      [COMMANDS[0], ANSWERS[0], "+PONG\r\n", true],
      [COMMANDS[1], ANSWERS[1], "+OK\r\n", true],
      [COMMANDS[2], ANSWERS[2], "$3\r\nblu\r\n", false],
    ]);
    expect(report.exchanges.map((e) => e.firstDifference)).toEqual([null, null, 4]);
    expect(report).toMatchObject({ same: 2, differing: 1 });
    // The replay session recorded its own traffic like any session.
    const events = await timeline(t.api, replay.id);
    expect(out(events)).toBe(COMMANDS.join(""));
    expect(bytesOf(events, 1, "in").toString()).toBe("+PONG\r\n+OK\r\n$3\r\nblu\r\n");
  });

  it("says failed, with the reason, when the server refuses", async () => {
    const redisPort = await redis();
    const recorded = await recordRedis(redisPort);
    const closedPort = await freePort();
    const replay = ok(
      await t.api.replay({
        session: recorded,
        conn: 1,
        side: "client",
        target: { host: "127.0.0.1", port: closedPort },
      }),
    );
    expect(replay.state).toBe("failed");
    const report = ok(await t.api.replayReport({ session: replay.id }));
    expect(report.state).toBe("failed");
    expect(report.error).toMatch(/refused/i);
    expect(report.exchanges).toEqual([]);
  });

  it("refuses a session that is not a replay, and a connection that never connected", async () => {
    const port = await freePort();
    const failed = await t.api.connect({ target: { host: "127.0.0.1", port } });
    expect(failed.ok).toBe(false);
    const session = ok(await t.api.listSessions({}))[0]!.id;
    const report = await t.api.replayReport({ session });
    expect(report).toMatchObject({ ok: false, error: { code: "not-a-replay" } });
    const replay = await t.api.replay({ session, conn: 1, side: "client", target: { host: "127.0.0.1", port } });
    expect(replay).toMatchObject({ ok: false, error: { code: "not-a-tcp-conversation" } });
  });
});

describe("replaying the server side", () => {
  it("answers a plain client's requests with the recorded answers", async () => {
    const redisPort = await redis();
    const recorded = await recordRedis(redisPort);

    const replay = ok(await t.api.replay({ session: recorded, conn: 1, side: "server", listen: { port: 0 } }));
    expect(replay.state).toBe("listening");
    const port = Number(replay.listeningOn!.split(":")[1]);
    const client = await plainClient(port);
    let expected = "";
    for (const [i, command] of COMMANDS.entries()) {
      client.socket.write(command);
      expected += ANSWERS[i]!;
      await waitFor(() => client.received() === expected, `answer ${i + 1} (has ${JSON.stringify(client.received())})`);
    }
    client.socket.end();
    const report = await untilDone(replay.id);
    expect(report).toMatchObject({ state: "done", same: 3, differing: 0 });
    expect(report.exchanges.map((e) => [text(e.expected), text(e.sent)])).toEqual(
      COMMANDS.map((c, i) => [c, ANSWERS[i]]),
    );
  });

  it("says failed when the session is closed before any client connected", async () => {
    const redisPort = await redis();
    const recorded = await recordRedis(redisPort);
    const replay = ok(await t.api.replay({ session: recorded, conn: 1, side: "server", listen: { port: 0 } }));
    expect(ok(await t.api.replayReport({ session: replay.id })).state).toBe("running");

    ok(await t.api.closeSession({ session: replay.id }));
    const report = ok(await t.api.replayReport({ session: replay.id }));
    expect(report).toMatchObject({ state: "failed", exchanges: [] });
    expect(report.error).toMatch(/no client connected/);
  });
});
