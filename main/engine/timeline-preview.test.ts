/**
 * readTimeline with a preview, through the contract, on a capture reopened with openRecording: its first events
 * come from the capture file, its last ones from the recorder's in-memory window, and both are cut the same way.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { createDispatcher, type Dispatch } from "../adapters/dispatch.ts";
import { CaptureWriter } from "../recording/capture-writer.ts";
import { READ_MAX_BYTES, WINDOW_BYTES } from "../recording/recorder.ts";
import { Engine } from "./engine.ts";
import { PREVIEW_SCAN_BYTES } from "./timeline-preview.ts";

const BIG = 64 * 1024;
/** Chunks of BIG bytes last: more than the window holds, so that the first events are read from the file. */
const BULK = Math.ceil((WINDOW_BYTES * 1.25) / BIG);

/** Chunks of MID bytes next: more than a preview read looks at, so that its bound on previews returned shows. */
const MID = 8 * 1024;
const MIDS = Math.ceil((PREVIEW_SCAN_BYTES * 1.1) / MID);

let workspace: string;
let engine: Engine;
let dispatch: Dispatch;
/** The capture, opened once: reads change nothing. */
let session: string;
beforeAll(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-preview-"));
  engine = await Engine.open({ workspaceRoot: workspace });
  dispatch = createDispatcher(engine);
  session = ((await call("openRecording", { path: await capture() })) as { id: string }).id;
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** BIG bytes counting up from `first`, so that a cut shows which bytes it kept. */
function pattern(first: number): Uint8Array {
  return Uint8Array.from({ length: BIG }, (_, i) => (first + i) % 251);
}

/**
 * A lifecycle event, a BIG chunk, a 10-byte one, a 100-byte one the other way and a log event on connection 1, then
 * MIDS chunks of MID bytes on connection 3, then BULK chunks of BIG bytes on connection 2.
 */
async function capture(): Promise<string> {
  const file = path.join(workspace, "chunks.wscap");
  const writer = await CaptureWriter.create(file, { timeOrigin: 1_700_000_000_000, kind: "imported", name: "chunks" });
  const events: NewTimelineEvent[] = [
    { kind: "lifecycle", t: 0, conn: 1, event: "connected", detail: "127.0.0.1:1 -> 127.0.0.1:2" },
    { kind: "data", t: 1, conn: 1, dir: "in", data: pattern(0) },
    { kind: "data", t: 2, conn: 1, dir: "in", data: Buffer.from("0123456789") },
    { kind: "data", t: 3, conn: 1, dir: "out", data: new Uint8Array(100).fill(7) },
    { kind: "log", t: 4, conn: 1, level: "info", text: "hello", fields: {} },
  ];
  const mid = new Uint8Array(MID).fill(0x61);
  for (let i = 0; i < MIDS; i += 1) events.push({ kind: "data", t: 5, conn: 3, dir: "in", data: mid });
  for (let i = 0; i < BULK; i += 1) events.push({ kind: "data", t: 6 + i, conn: 2, dir: "in", data: pattern(i) });
  events.forEach((e, seq) => writer.append({ ...e, seq }));
  await writer.close();
  return file;
}

async function call(name: string, args: unknown): Promise<unknown> {
  const result = await dispatch(name, args);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

async function read(id: string, from: number, count: number, preview?: number): Promise<TimelineEvent[]> {
  const args = { session: id, from, count, ...(preview !== undefined ? { preview } : {}) };
  return ((await call("readTimeline", args)) as { events: TimelineEvent[] }).events;
}

/** What a preview of `e` should be: its first `preview` bytes, its whole size when that cut it. */
function cut(e: TimelineEvent, preview: number): TimelineEvent {
  if (e.kind !== "data" || e.data.byteLength <= preview) return e;
  return { ...e, data: e.data.slice(0, preview), size: e.data.byteLength };
}

describe("readTimeline with a preview", () => {
  it("cuts each chunk to its first bytes and says its whole size, from the file and from memory", async () => {
    const head = await read(session, 0, 5, 100);
    expect(head).toEqual((await read(session, 0, 5)).map((e) => cut(e, 100)));
    expect(head[1]).toMatchObject({ kind: "data", size: BIG, offset: 0, data: pattern(0).slice(0, 100) });
    // No longer than the preview: whole, without a size.
    expect(head[2]).not.toHaveProperty("size");
    expect(head[3]).not.toHaveProperty("size");
    expect(head[2]).toMatchObject({ offset: BIG, data: new Uint8Array(Buffer.from("0123456789")) });

    const last = 5 + MIDS + BULK - 3;
    const tail = await read(session, last, 3, 100);
    expect(tail).toEqual((await read(session, last, 3)).map((e) => cut(e, 100)));
    expect(tail.map((e) => e.kind === "data" && e.offset)).toEqual([
      (BULK - 3) * BIG,
      (BULK - 2) * BIG,
      (BULK - 1) * BIG,
    ]);
  });

  it("reads whole events without a preview, as before", async () => {
    const events = await read(session, 0, 5);
    expect(events.map((e) => (e.kind === "data" ? e.data.byteLength : e.kind))).toEqual([
      "lifecycle",
      BIG,
      10,
      100,
      "log",
    ]);
    expect(events[1]).toMatchObject({ data: pattern(0) });
    for (const e of events) expect(e).not.toHaveProperty("size");
  });

  it("reads a page of rows of big chunks at once, where whole chunks stop at the read's bound", async () => {
    const page = 5 + MIDS + BULK - 200;
    expect(await read(session, page, 200)).toHaveLength(READ_MAX_BYTES / BIG);
    const previews = await read(session, page, 200, 160);
    expect(previews).toHaveLength(200);
    expect(previews.every((e) => e.kind === "data" && e.data.byteLength === 160 && e.size === BIG)).toBe(true);
  });

  it("returns no more than the read's bound of previews", async () => {
    const previews = await read(session, 5, 10_000, 4096);
    expect(previews).toHaveLength(READ_MAX_BYTES / 4096);
    expect(previews.map((e) => e.seq)).toEqual(previews.map((_, i) => 5 + i));
    expect(previews.every((e) => e.kind === "data" && e.data.byteLength === 4096 && e.size === MID)).toBe(true);
  });

  it("refuses a preview longer than the contract's limit, saying it", async () => {
    const result = await dispatch("readTimeline", { session, from: 0, count: 1, preview: 4097 });
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: "invalid-arguments",
        issues: [{ path: "preview", message: "a preview is at most 4,096 bytes of a chunk" }],
      },
    });
  });
});
