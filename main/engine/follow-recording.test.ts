/**
 * Opening a capture that is still being written (openRecording): the imported session follows it as a Recorder in
 * the same test appends to it, stops at the capture's close, shows a damaged record as an error, and stops following
 * a capture that stopped growing when its writer can't be checked (a Recorder made here names none). Every wait is
 * bounded. (tests/cli/wrap-follow.test.ts follows a real `wirescope wrap`, and one killed mid-way.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../preload/contract.ts";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { RECORD_HEAD } from "../recording/capture-format.ts";
import { Recorder } from "../recording/recorder.ts";
import { Engine } from "./engine.ts";
import { FOLLOW_IDLE_MS } from "./follow-recording.ts";

let workspace: string;
let engine: Engine;
let recorder: Recorder | null = null;
beforeEach(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-follow-"));
  engine = await Engine.open({ workspaceRoot: workspace });
});
afterEach(async () => {
  await recorder?.close();
  recorder = null;
  await engine.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** The session `id` once `ok` holds for it, polled every 50 ms for at most `waitMs` (10 s). */
async function sessionWhen(id: string, ok: (s: SessionInfo) => boolean, waitMs = 10_000): Promise<SessionInfo> {
  let last: SessionInfo | undefined;
  for (let i = 0; i < waitMs / 50; i += 1) {
    last = (await engine.listSessions()).find((s) => s.id === id);
    if (last !== undefined && ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`session never got there; last seen: ${JSON.stringify(last)}`);
}

/** What the session's timeline holds, as "kind event-or-text" strings. */
async function timelineOf(id: string): Promise<string[]> {
  const { events } = await engine.readTimeline({ session: id, from: 0, count: 1000 });
  return events.map((e) =>
    e.kind === "data" ? `data ${new TextDecoder().decode(e.data)}` : e.kind === "lifecycle" ? e.event : e.kind,
  );
}

/** Appends `events` to the live recorder and waits until they are in its file. */
async function write(...events: NewTimelineEvent[]): Promise<void> {
  for (const e of events) recorder!.append(e);
  await recorder!.flush();
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("openRecording on a capture still being written", () => {
  it("follows it as it grows, live, until the capture's session closes", async () => {
    const file = path.join(workspace, "live.wscap");
    recorder = await Recorder.create(file, { kind: "client", name: "live" });
    await write(
      { kind: "lifecycle", t: 1, conn: 1, event: "connecting", detail: "127.0.0.1:6379" },
      { kind: "lifecycle", t: 2, conn: 1, event: "connected", detail: "127.0.0.1:50000 -> 127.0.0.1:6379" },
      { kind: "data", t: 3, conn: 1, dir: "out", data: text("PING") },
    );
    const opened = await engine.openRecording({ path: file });
    expect(opened.following).toBeUndefined();

    await write({ kind: "data", t: 4, conn: 1, dir: "in", data: text("PONG") });
    const live = await sessionWhen(opened.id, (s) => s.following === true && s.bytesIn === 4);
    expect(live.error).toBeUndefined();
    expect(live.connections.map((c) => [c.conn, c.state, c.bytesOut, c.bytesIn])).toEqual([[1, "connected", 4, 4]]);
    expect((await timelineOf(opened.id)).filter((e) => e.startsWith("data"))).toEqual(["data PING", "data PONG"]);

    await write(
      { kind: "data", t: 5, conn: 1, dir: "out", data: text("QUIT") },
      { kind: "lifecycle", t: 6, conn: 1, event: "lost", detail: "ConnectionDone" },
      { kind: "lifecycle", t: 7, conn: 0, event: "closed", detail: "session closed" },
    );
    const done = await sessionWhen(opened.id, (s) => s.following === undefined && s.bytesOut === 8);
    expect(done.connections.map((c) => [c.state, c.reason])).toEqual([["closed", "ConnectionDone"]]);
    expect((await timelineOf(opened.id)).slice(-3)).toEqual(["data QUIT", "lost", "closed"]);
  });

  it("shows a record that fails its check with more written after it as an error on the session", async () => {
    const file = path.join(workspace, "damaged.wscap");
    recorder = await Recorder.create(file, { kind: "client", name: "damaged" });
    await write({ kind: "lifecycle", t: 1, conn: 1, event: "connecting", detail: "127.0.0.1:6379" });
    const opened = await engine.openRecording({ path: file });
    await write({ kind: "data", t: 2, conn: 1, dir: "out", data: text("ok") });
    await sessionWhen(opened.id, (s) => s.following === true && s.bytesOut === 2);
    await recorder.close();
    recorder = null;

    // Record 2 with a wrong CRC, then more bytes than a padding block: damage, not a record still being written.
    const bad = Buffer.alloc(RECORD_HEAD + 4 + 4);
    bad.writeUInt32LE(bad.length - 4, 0);
    bad[4] = 1;
    bad.writeUInt32LE(1, 8);
    bad.writeDoubleLE(2, 12);
    bad.writeDoubleLE(3, 20);
    fs.appendFileSync(file, Buffer.concat([bad, Buffer.alloc(8192, 0xff)]));

    const failed = await sessionWhen(opened.id, (s) => s.following === undefined && s.error !== undefined);
    expect(failed.error).toContain("Record 2 of the capture fails its check");
    expect((await timelineOf(opened.id)).slice(-2)).toEqual(["data ok", "error"]);
  });

  it("stops following a capture that no longer grows when its writer can't be checked, and says so", async () => {
    const file = path.join(workspace, "quiet.wscap");
    recorder = await Recorder.create(file, { kind: "client", name: "quiet" });
    await write({ kind: "lifecycle", t: 1, conn: 1, event: "connecting", detail: "127.0.0.1:6379" });
    const opened = await engine.openRecording({ path: file });
    await write({ kind: "data", t: 2, conn: 1, dir: "out", data: text("ok") });
    await sessionWhen(opened.id, (s) => s.following === true && s.bytesOut === 2);

    const stopped = await sessionWhen(opened.id, (s) => s.following === undefined, FOLLOW_IDLE_MS + 5_000);
    expect(stopped.error).toMatch(/^Following the capture stopped: it has not grown for 1\d s and its writer can't/);
    expect(stopped.connections.map((c) => c.state)).toEqual(["closed"]);
    expect((await timelineOf(opened.id)).slice(-2)).toEqual(["data ok", "error"]);
  }, 30_000);
});
