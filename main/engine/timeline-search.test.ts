/**
 * The engine's search commands through the contract, on a capture reopened with openRecording (its index built
 * while it is copied): a wrong filter is a "bad-filter" error saying where, matches are found in the whole capture,
 * and chunks read carry their stream offsets.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { createDispatcher, type Dispatch } from "../adapters/dispatch.ts";
import { CaptureWriter } from "../recording/capture-writer.ts";
import { Engine } from "./engine.ts";

let workspace: string;
let engine: Engine;
let dispatch: Dispatch;
beforeEach(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-search-"));
  engine = await Engine.open({ workspaceRoot: workspace });
  dispatch = createDispatcher(engine);
});
afterEach(async () => {
  await engine.close();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** A capture of 150,000 chunks alternating between two connections, with "rare" in every 10,000th. */
async function bigCapture(): Promise<string> {
  const file = path.join(workspace, "big.wscap");
  const writer = await CaptureWriter.create(file, { timeOrigin: 1_700_000_000_000, kind: "imported", name: "big" });
  for (let seq = 0; seq < 150_000; seq += 1) {
    const text = seq % 10_000 === 5 ? `rare ${seq}` : `chunk ${seq}\n`;
    const e: NewTimelineEvent = { kind: "data", t: seq, conn: 1 + (seq % 2), dir: "in", data: Buffer.from(text) };
    writer.append({ ...e, seq });
  }
  await writer.close();
  return file;
}

async function call(name: string, args: unknown): Promise<unknown> {
  const result = await dispatch(name, args);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe("findTimeline, readTimeline offsets", () => {
  it("explains a wrong filter with its column, as a bad-filter error", async () => {
    const session = (await call("openRecording", { path: await bigCapture() })) as { id: string };
    const result = await dispatch("findTimeline", { session: session.id, filter: "conn == ", from: 0, limit: 10 });
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: "bad-filter",
        category: "usage",
        message: "The filter is wrong at column 9: expected a value after '=='",
        issues: [{ path: "filter", message: "at column 9: expected a value after '=='" }],
      },
    });
  });

  it("finds matches from the first event of a capture larger than the workbench's old window", async () => {
    const session = (await call("openRecording", { path: await bigCapture() })) as { id: string };
    const seqs: number[] = [];
    let from = 0;
    while (from !== -1) {
      const page = (await call("findTimeline", { session: session.id, filter: "rare", from, limit: 10_000 })) as {
        seqs: number[];
        next: number;
        total: number;
      };
      expect(page.total).toBe(150_000);
      seqs.push(...page.seqs);
      from = page.next;
    }
    expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i * 10_000 + 5));
  });

  it("reads chunks with the stream offset of their first byte", async () => {
    const session = (await call("openRecording", { path: await bigCapture() })) as { id: string };
    const { events } = (await call("readTimeline", { session: session.id, from: 99_998, count: 4 })) as {
      events: { seq: number; offset?: number; data: Uint8Array }[];
    };
    // Connection 1 holds the even seqs: every chunk before 99,998 that is even, added up.
    let expected = 0;
    for (let seq = 0; seq < 99_998; seq += 2)
      expected += (seq % 10_000 === 5 ? `rare ${seq}` : `chunk ${seq}\n`).length;
    expect(events.map((e) => e.seq)).toEqual([99_998, 99_999, 100_000, 100_001]);
    expect(events[0]!.offset).toBe(expected);
    expect(events[2]!.offset).toBe(expected + events[0]!.data.byteLength);
  });
});
