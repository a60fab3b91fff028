/**
 * Reopening .wscap files through the engine's openRecording, on a real disk: connection rows for the connection
 * numbers the file holds (however large), what a recording cut short lost, where a relative path is looked for, and a
 * copy stopped by the engine's signal.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { CaptureWriter } from "../recording/capture-writer.ts";
import { capturesDir } from "../workspace/layout.ts";
import { Engine } from "./engine.ts";
import { RecordingNotFoundError } from "./reopen-recording.ts";

let workspace: string;
let engine: Engine;
beforeEach(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-reopen-"));
  engine = await Engine.open({ workspaceRoot: workspace });
});
afterEach(async () => {
  await engine.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** Writes a client capture at `file` holding `events` (numbered in order). */
async function writeCapture(file: string, events: NewTimelineEvent[]): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const writer = await CaptureWriter.create(file, { timeOrigin: 1_700_000_000_000, kind: "client", name: "old" });
  events.forEach((e, seq) => writer.append({ ...e, seq }));
  await writer.close();
}

/** A connection that connected, sent `text` and was lost. */
function connection(conn: number, t: number, text: string): NewTimelineEvent[] {
  return [
    { kind: "lifecycle", t, conn, event: "connecting", detail: "127.0.0.1:6379" },
    { kind: "lifecycle", t: t + 1, conn, event: "connected", detail: "127.0.0.1:50000 -> 127.0.0.1:6379" },
    { kind: "data", t: t + 2, conn, dir: "out", data: new TextEncoder().encode(text) },
    { kind: "lifecycle", t: t + 3, conn, event: "lost", detail: "ConnectionDone" },
  ];
}

describe("openRecording", () => {
  it("makes one row per connection the capture holds, under its recorded number, however large", async () => {
    const file = path.join(workspace, "sparse.wscap");
    await writeCapture(file, [...connection(2, 10, "hi"), ...connection(300_000, 20, "there")]);
    const info = await engine.openRecording({ path: file });
    expect(info.connections.map((c) => [c.conn, c.bytesOut, c.state])).toEqual([
      [2, 2, "closed"],
      [300_000, 5, "closed"],
    ]);
  });

  it("stops copying once the engine's signal is aborted: its reason is thrown, no session or capture is left", async () => {
    const file = path.join(workspace, "long.wscap");
    await writeCapture(file, [...connection(1, 10, "one"), ...connection(2, 20, "two")]);
    const controller = new AbortController();
    const stopping = await Engine.open({ workspaceRoot: workspace, signal: controller.signal });
    try {
      controller.abort(new Error("stopped by Ctrl+C"));
      await expect(stopping.openRecording({ path: file })).rejects.toThrow("stopped by Ctrl+C");
      expect(await stopping.listSessions()).toEqual([]);
      expect(fs.readdirSync(capturesDir(workspace))).toEqual([]);
    } finally {
      await stopping.close();
    }
  });

  it("says where a recording cut short stops and how many bytes of its file could not be read", async () => {
    const file = path.join(workspace, "torn.wscap");
    await writeCapture(file, [...connection(1, 1_000_000, "first"), ...connection(2, 3_500_000, "second")]);
    fs.appendFileSync(file, Buffer.from([40, 0, 0, 0, 1, 0, 0])); // a record cut off after 7 of its bytes
    const info = await engine.openRecording({ path: file });
    const stops = "The recording stops at 2.500003 s (2023-11-14T22:13:23.500Z)";
    expect(info.error).toBe(
      `${stops} without its session's close: the process writing it stopped (killed or crashed), or still writes ` +
        "it; 7 bytes at the end of the file could not be read (a record cut off mid-write). " +
        "Anything after that is not in the capture.",
    );
    const { events } = await engine.readTimeline({ session: info.id, from: 0, count: 100 });
    expect(events.at(-1)).toMatchObject({ kind: "lifecycle", conn: 0, event: "error", t: 3_500_003 });
  });

  it("reports nothing lost for a session's capture that ends with its close", async () => {
    const file = path.join(workspace, "whole.wscap");
    const closed: NewTimelineEvent = { kind: "lifecycle", t: 20, conn: 0, event: "closed", detail: "session closed" };
    await writeCapture(file, [...connection(1, 10, "hi"), closed]);
    const info = await engine.openRecording({ path: file });
    expect(info.error).toBeUndefined();
    const { events } = await engine.readTimeline({ session: info.id, from: 0, count: 100 });
    expect(events.map((e) => (e.kind === "lifecycle" ? e.event : e.kind)).at(-1)).toBe("closed");
  });

  it("looks for a relative path in the workspace's captures folder, then the workspace, never the current directory", async () => {
    await writeCapture(path.join(capturesDir(workspace), "kept.wscap"), connection(1, 10, "from captures"));
    await writeCapture(path.join(workspace, "sub", "moved.wscap"), connection(1, 10, "from the workspace"));
    expect((await engine.openRecording({ path: "kept.wscap" })).connections[0]?.bytesOut).toBe(13);
    expect((await engine.openRecording({ path: "sub/moved.wscap" })).connections[0]?.bytesOut).toBe(18);

    // A file in the process's current directory (the repository's package.json) is not looked for.
    expect(fs.existsSync(path.join(process.cwd(), "package.json"))).toBe(true);
    const missing = await engine.openRecording({ path: "package.json" }).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(RecordingNotFoundError);
    expect((missing as Error).message).toContain(
      `looked at ${path.join(capturesDir(workspace), "package.json")} and ${path.join(workspace, "package.json")}`,
    );
  });
});
