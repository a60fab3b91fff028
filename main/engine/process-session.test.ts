/**
 * Process sessions driven through the contract over the real WebSocket adapter, with real programs: cat, bc, a
 * child writing 100 MB, one that doesn't read its stdin, one exiting 3, one killed by SIGKILL, and commands that
 * can't run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../../preload/contract.ts";
import type { LifecycleTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { ok, timeline, useEngine, waitForTimeline } from "../../tests/helpers/engine.ts";

const { t } = useEngine();

/** The bytes of connection `conn` that went through the child's fd `fd`. */
function fdBytes(events: TimelineEvent[], conn: number, fd: number): string {
  const chunks = events.flatMap((e) => (e.kind === "data" && e.conn === conn && e.fd === fd ? [e.data] : []));
  return Buffer.concat(chunks).toString("latin1");
}

function lifecycle(events: TimelineEvent[], conn = 1): LifecycleTimelineEvent[] {
  return events.filter((e): e is LifecycleTimelineEvent => e.kind === "lifecycle" && e.conn === conn);
}

function ended(conn = 1): (events: TimelineEvent[]) => boolean {
  return (events) => lifecycle(events, conn).some((e) => e.event === "ended");
}

async function session(id: string): Promise<SessionInfo> {
  return ok(await t.api.listSessions({})).find((s) => s.id === id)!;
}

/** Polls the session list until session `id` shows `state`. */
async function waitForState(id: string, state: SessionInfo["state"], timeoutMs = 10_000): Promise<SessionInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await session(id);
    if (info.state === state) return info;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${id} to be ${state}: ${JSON.stringify(info)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The pids of session `id`'s children (every connection's "spawned") that still run; the test kills them, so that
 * a failure leaves none behind.
 */
async function runningChildren(id: string): Promise<number[]> {
  const pids = (await timeline(t.api, id)).flatMap((e) => {
    const pid = e.kind === "lifecycle" && e.event === "spawned" ? e.fields?.["pid"] : undefined;
    return typeof pid === "number" ? [pid] : [];
  });
  const running = pids.filter(isRunning);
  for (const pid of running) process.kill(pid, "SIGKILL");
  return running;
}

/** Whether process `pid` exists (signal 0 checks without sending). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("process sessions", () => {
  it("runs cat: what is sent comes back on stdout, closing stdin ends it, all on the timeline and in the capture", async () => {
    const s = ok(await t.api.spawn({ argv: ["cat"] }));
    expect(s).toMatchObject({ kind: "process", name: "cat", target: "cat", state: "connected", protocol: null });
    expect(s.process).toMatchObject({ argv: ["cat"], cwd: t.workspace });
    const pid = s.process!.pid!;
    expect(s.connections[0]).toMatchObject({ conn: 1, state: "connected", peer: "cat", host: `pid ${pid}` });

    ok(await t.api.send({ session: s.id, conn: 1, data: "hello\\n", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => fdBytes(e, 1, 1) === "hello\n", "the echo");
    ok(await t.api.halfCloseConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, ended(), "the end");

    expect(fdBytes(events, 1, 0)).toBe("hello\n");
    expect(events.filter((e) => e.kind === "data").map((e) => [e.dir, e.kind === "data" && e.fd])).toEqual([
      ["out", 0],
      ["in", 1],
    ]);
    const steps = lifecycle(events);
    expect(steps[0]).toMatchObject({
      event: "spawned",
      detail: `cat (pid ${pid})`,
      fields: { pid, argv: ["cat"], cwd: t.workspace },
    });
    expect(steps.filter((e) => e.event === "fd-closed").map((e) => e.fields)).toEqual(
      expect.arrayContaining([{ fd: 0 }, { fd: 1 }, { fd: 2 }]),
    );
    expect(steps.find((e) => e.event === "exited")).toMatchObject({
      detail: "exit code 0",
      fields: { code: 0, signal: null },
    });
    expect(steps.at(-1)).toMatchObject({ event: "ended", detail: "exit code 0" });
    await waitForState(s.id, "closed");
    expect(await session(s.id)).toMatchObject({
      bytesIn: 6,
      bytesOut: 6,
      process: { argv: ["cat"], exitCode: 0 },
      connections: [{ conn: 1, state: "closed", reason: "exit code 0" }],
    });
    expect((await session(s.id)).process?.pid).toBeUndefined();

    // The capture keeps each chunk's fd: reopened, the recording shows the same.
    const file = t.engine.captureFileOf(s.id);
    ok(await t.api.removeSession({ session: s.id }));
    const reopened = ok(await t.api.openRecording({ path: file }));
    const recorded = await timeline(t.api, reopened.id);
    expect([fdBytes(recorded, 1, 0), fdBytes(recorded, 1, 1)]).toEqual(["hello\n", "hello\n"]);

    // Reopened, it is still a process's pipes: Decode, Replay and pcapng refuse it, saying why.
    expect(reopened.recordedKind).toBe("process");
    const decoded = await t.api.decode({ session: reopened.id, conn: 1, protocol: "line.ts", side: "client" });
    expect(!decoded.ok && decoded.error).toMatchObject({ code: "not-a-tcp-conversation" });
    expect(!decoded.ok && decoded.error.message).toMatch(/process's pipes/);
    const replayed = await t.api.replay({
      session: reopened.id,
      conn: 1,
      side: "client",
      target: { host: "127.0.0.1", port: 9 },
    });
    expect(!replayed.ok && replayed.error).toMatchObject({ code: "not-a-tcp-conversation" });
    const exported = await t.api.exportPcapng({ session: reopened.id });
    expect(!exported.ok && exported.error).toMatchObject({ code: "nothing-to-export" });
    expect(!exported.ok && exported.error.message).toMatch(/no place for a process's pipes/);
  });

  it("runs bc: answers on stdout, errors on stderr", async () => {
    const s = ok(await t.api.spawn({ argv: ["bc", "-q"], name: "calc" }));
    expect(s.name).toBe("calc");
    ok(await t.api.send({ session: s.id, conn: 1, data: "2+3\\n", encoding: "text" }));
    await waitForTimeline(t.api, s.id, (e) => fdBytes(e, 1, 1) === "5\n", "bc's answer");
    ok(await t.api.send({ session: s.id, conn: 1, data: "1/0\\n", encoding: "text" }));
    const events = await waitForTimeline(t.api, s.id, (e) => /Divide by zero/.test(fdBytes(e, 1, 2)), "bc's error");
    expect(fdBytes(events, 1, 1)).toBe("5\n");
    ok(await t.api.send({ session: s.id, conn: 1, data: "quit\\n", encoding: "text" }));
    await waitForTimeline(t.api, s.id, ended(), "bc to quit");
  });

  it("records a child writing 100 MB to stdout with bounded memory", async () => {
    const size = 100_000_000;
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const s = ok(await t.api.spawn({ argv: ["head", "-c", String(size), "/dev/zero"] }));
      await waitForState(s.id, "closed", 60_000);
      expect(await session(s.id)).toMatchObject({ bytesIn: size, process: { exitCode: 0 } });
    } finally {
      clearInterval(sampler);
    }
    // The recorder's own bounds (its 32 MiB window, at most 64 MiB queued for the disk) plus the pipes' chunks.
    expect(peak - before).toBeLessThan(200 * 2 ** 20);
  }, 90_000);

  it("holds what is sent to a child that doesn't read its stdin, and delivers all of it once it reads", async () => {
    // The shell reads nothing until SIGHUP, then becomes cat.
    const s = ok(await t.api.spawn({ argv: ["sh", "-c", 'trap "exec cat" HUP; while sleep 0.05; do :; done'] }));
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 4; i++) {
      chunk.fill(0x61 + i);
      ok(await t.api.send({ session: s.id, conn: 1, data: chunk.toString("base64"), encoding: "base64" }));
    }
    const paused = await waitForTimeline(
      t.api,
      s.id,
      (e) => lifecycle(e).some((l) => l.event === "paused"),
      "writing to pause",
    );
    expect(lifecycle(paused).find((l) => l.event === "paused")?.detail).toBe(
      "the child is not reading its stdin: what is sent waits in memory",
    );
    expect(fdBytes(paused, 1, 1)).toBe("");
    ok(await t.api.signalProcess({ session: s.id, signal: "SIGHUP" }));
    const echoed = await waitForTimeline(t.api, s.id, (e) => fdBytes(e, 1, 1).length >= 4 * 1024 * 1024, "cat's echo");
    expect(lifecycle(echoed).some((l) => l.event === "resumed")).toBe(true);
    ok(await t.api.halfCloseConnection({ session: s.id, conn: 1 }));
    const events = await waitForTimeline(t.api, s.id, ended(), "cat to finish", 30_000);
    const sent = fdBytes(events, 1, 0);
    expect(sent.length).toBe(4 * 1024 * 1024);
    expect(fdBytes(events, 1, 1) === sent).toBe(true);
    expect(lifecycle(events).at(-1)).toMatchObject({ event: "ended", detail: "exit code 0" });
  });

  it("ends a child whose pipes a grandchild holds open: closing the session doesn't wait for the grandchild", async () => {
    // The background loop inherits stdout and ticks until writing to it fails.
    const s = ok(await t.api.spawn({ argv: ["sh", "-c", "(while echo tick; do sleep 0.2; done) & exec sleep 30"] }));
    await waitForTimeline(t.api, s.id, (e) => fdBytes(e, 1, 1).startsWith("tick\n"), "a tick");
    ok(await t.api.closeSession({ session: s.id }));
    const events = await timeline(t.api, s.id);
    expect(lifecycle(events).find((e) => e.event === "exited")?.detail).toBe("killed by SIGTERM");
    expect(lifecycle(events).at(-1)).toMatchObject({ event: "ended", detail: "killed by SIGTERM" });
    expect(events.at(-1)).toMatchObject({ conn: 0, event: "closed" });
  });

  it("reports a non-zero exit code and what the child said on stderr", async () => {
    const s = ok(await t.api.spawn({ argv: ["sh", "-c", "echo oops >&2; exit 3"] }));
    const events = await waitForTimeline(t.api, s.id, ended(), "the exit");
    expect(fdBytes(events, 1, 2)).toBe("oops\n");
    expect(lifecycle(events).find((e) => e.event === "exited")).toMatchObject({
      detail: "exit code 3",
      fields: { code: 3, signal: null },
    });
    await waitForState(s.id, "closed");
    expect((await session(s.id)).process).toMatchObject({ exitCode: 3 });
  });

  it("kills a child with SIGKILL, refuses signals once it exited, restarts it and stops it on close", async () => {
    const s = ok(await t.api.spawn({ argv: ["sleep", "30"] }));
    ok(await t.api.signalProcess({ session: s.id, signal: "SIGKILL" }));
    const events = await waitForTimeline(t.api, s.id, ended(), "the kill");
    expect(lifecycle(events).find((e) => e.event === "exited")).toMatchObject({
      detail: "killed by SIGKILL",
      fields: { code: null, signal: "SIGKILL" },
    });
    await waitForState(s.id, "closed");
    expect((await session(s.id)).process).toMatchObject({ signal: "SIGKILL" });
    const again = await t.api.signalProcess({ session: s.id, signal: "SIGTERM" });
    expect(!again.ok && again.error).toMatchObject({ code: "connection-closed" });

    const restarted = ok(await t.api.reconnect({ session: s.id }));
    expect(restarted).toMatchObject({ state: "connected", connections: [{ conn: 1 }, { conn: 2 }] });
    expect(restarted.process?.pid).toBeGreaterThan(0);
    ok(await t.api.closeSession({ session: s.id }));
    const after = await timeline(t.api, s.id);
    expect(lifecycle(after, 2).find((e) => e.event === "exited")?.detail).toBe("killed by SIGTERM");
    expect(after.at(-1)).toMatchObject({ conn: 0, event: "closed" });
  });

  it("leaves no child running after two reconnects at once and a close, nor after a close during a restart", async () => {
    const s = ok(await t.api.spawn({ argv: ["sleep", "30"] }));
    // A double click on Reconnect: both ask while the first child still runs.
    const twice = await Promise.all([t.api.reconnect({ session: s.id }), t.api.reconnect({ session: s.id })]);
    expect(twice.every((r) => r.ok)).toBe(true);
    ok(await t.api.closeSession({ session: s.id }));
    expect(await runningChildren(s.id)).toEqual([]);

    const other = ok(await t.api.spawn({ argv: ["sleep", "30"] }));
    // Closed while the restart waits for the first child to stop: the restart spawns nothing.
    const [, closed] = await Promise.all([
      t.api.reconnect({ session: other.id }),
      t.api.closeSession({ session: other.id }),
    ]);
    ok(closed);
    expect(await runningChildren(other.id)).toEqual([]);
  });

  it("refuses a command that can't run, and a missing protocol, leaving no session and no capture behind", async () => {
    const missing = await t.api.spawn({ argv: ["wirescope-no-such-program", "--flag"] });
    expect(!missing.ok && missing.error).toMatchObject({ code: "spawn-failed", category: "failed" });
    expect(!missing.ok && missing.error.message).toMatch(
      /^Could not run wirescope-no-such-program --flag: No executable found in .*: ENOENT: wirescope-no-such-program$/,
    );
    const badFolder = await t.api.spawn({ argv: ["cat"], cwd: "no/such/folder" });
    expect(!badFolder.ok && badFolder.error).toMatchObject({ code: "spawn-failed" });
    const withProtocol = await t.api.spawn({ argv: ["cat"], protocol: "no-such-protocol.ts" });
    expect(!withProtocol.ok && withProtocol.error).toMatchObject({ code: "not-found" });
    const empty = await t.api.spawn({ argv: [] });
    expect(!empty.ok && empty.error).toMatchObject({ code: "invalid-arguments" });

    expect(ok(await t.api.listSessions({}))).toEqual([]);
    expect(fs.readdirSync(path.join(t.workspace, "captures"))).toEqual([]);
  });

  it("refuses a signal for a session that runs no process", async () => {
    const s = ok(await t.api.spawn({ argv: ["cat"] }));
    const listener = ok(await t.api.listen({ target: { port: 0, interface: "127.0.0.1" } }));
    const r = await t.api.signalProcess({ session: listener.id, signal: "SIGINT" });
    expect(!r.ok && r.error).toMatchObject({ code: "not-a-process" });
    ok(await t.api.signalProcess({ session: s.id, signal: "SIGINT" }));
    const events = await waitForTimeline(t.api, s.id, ended(), "cat to stop");
    expect(lifecycle(events).find((e) => e.event === "exited")?.detail).toBe("killed by SIGINT");
  });
});
