/**
 * findTimeline over a recorded timeline larger than the recorder's window: every kind of term finds exactly the
 * events it names, from the capture file as from memory, page by page forward and backward.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFilter } from "../../preload/filter-language.ts";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { Recorder } from "../recording/recorder.ts";
import { findTimeline, type FindQuery } from "./find-timeline.ts";

const EVENTS = 30_000;
let dir: string;
let recorder: Recorder;
/** What each seq is, as generated: the oracle the searches are checked against. */
const made: NewTimelineEvent[] = [];

/** Event `i` of the test timeline: chunks on connections 1..3, a decoded message every 10th, a lifecycle note every 1000th. */
function eventAt(i: number): NewTimelineEvent {
  const t = 1_000_000 + i * 100; // 100 µs apart: event i is at i/10 ms
  const conn = 1 + (i % 3);
  if (i % 1000 === 999) return { kind: "lifecycle", t, conn, event: "paused", detail: `pause number ${i}` };
  if (i % 10 === 9) {
    const command = i % 20 === 9 ? "SET" : "GET";
    return {
      kind: "log",
      t,
      conn,
      level: "info",
      text: `${command} key${i}`,
      fields: { command, args: [i % 40 === 9 ? `user:${i}` : `key${i}`, "v"] },
      spans: [{ dir: "in", offset: i, length: i % 50 === 9 ? 2000 : 10 }],
      pair: { role: "response", request: i - 1, latency: i % 100 === 9 ? 20_000 : 500 },
    };
  }
  const body =
    i === 7
      ? "a needle in the haystack"
      : i === 13
        ? "\xdcn\xefcode"
        : i === 12_345
          ? "\xde\xad\xbe\xef"
          : `chunk ${i} `;
  return { kind: "data", t, conn, dir: i % 2 === 0 ? "in" : "out", data: Buffer.from(body, "latin1") };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "find-timeline-"));
  recorder = await Recorder.create(path.join(dir, "t.wscap"), { kind: "client" }, { windowEvents: 500 });
  for (let i = 0; i < EVENTS; i += 1) {
    const e = eventAt(i);
    made.push(e);
    recorder.append(e);
  }
  await recorder.flush();
});

afterAll(async () => {
  await recorder.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every match of `filter`, collected page by page as the workbench would. */
async function all(filter: string, options: Partial<FindQuery> = {}): Promise<number[]> {
  const parsed = parseFilter(filter);
  if (!parsed.ok) throw new Error(parsed.message);
  const seqs: number[] = [];
  let from = options.from ?? (options.backward ? EVENTS - 1 : 0);
  for (let calls = 0; from !== -1; calls += 1) {
    if (calls > 10_000) throw new Error("findTimeline never finished");
    const page = await findTimeline(recorder, { limit: 700, ...options, filter: parsed.filter, from });
    expect(page.total).toBe(EVENTS);
    seqs.push(...page.seqs);
    from = page.next;
  }
  return seqs;
}

function expected(pick: (e: NewTimelineEvent, i: number) => boolean): number[] {
  return made.flatMap((e, i) => (pick(e, i) ? [i] : []));
}

describe("findTimeline", () => {
  it("finds by direction, kind and connection", async () => {
    // A decoded message goes the way of the bytes it came from: these all came in.
    const cameIn = (e: NewTimelineEvent): boolean => (e.kind === "data" ? e.dir === "in" : e.kind === "log");
    expect(await all("conn == 2 && in")).toEqual(expected((e) => e.conn === 2 && cameIn(e)));
    expect(await all("lifecycle")).toEqual(expected((e) => e.kind === "lifecycle"));
    expect(await all("message out")).toEqual([]);
    expect(await all("data", { conn: 3 })).toEqual(expected((e) => e.kind === "data" && e.conn === 3));
  });

  it("finds text and bytes at the start of the capture, far outside the recorder's window", async () => {
    expect(await all("NEEDLE")).toEqual([7]);
    expect(await all("üNÏCODE")).toEqual([13]); // Latin-1 letters in any case too
    expect(await all('"pause number 5999"')).toEqual([5999]);
    expect(await all("hex: de ad be ef")).toEqual([12_345]);
  });

  it("finds decoded messages by field, size, time and latency", async () => {
    const isMessage = (e: NewTimelineEvent): e is Extract<NewTimelineEvent, { kind: "log" }> =>
      e.kind === "log" && e.spans !== undefined;
    expect(await all('command == "SET" && args.0 ~ "USER"')).toEqual(
      expected(
        (e) => isMessage(e) && e.fields.command === "SET" && String((e.fields.args as string[])[0]).startsWith("user"),
      ),
    );
    expect(await all("size > 1KB")).toEqual(expected((e) => isMessage(e) && e.spans![0]!.length > 1000));
    expect(await all("latency >= 20ms")).toEqual(expected((e) => isMessage(e) && e.pair?.latency === 20_000));
    expect(await all("t >= 2.9s and t < 2900.2ms")).toEqual([29_000, 29_001]);
  });

  it("pages backward from the end, newest first, to the same matches", async () => {
    const forward = await all("conn == 1 message");
    const backward = await all("conn == 1 message", { backward: true });
    expect(backward).toEqual([...forward].reverse());
    expect(forward).toEqual(expected((e) => e.conn === 1 && e.kind === "log"));
  });

  it("stops at `limit` and goes on from `next` without losing or repeating a match", async () => {
    const parsed = parseFilter("lifecycle");
    if (!parsed.ok) throw new Error(parsed.message);
    const page = await findTimeline(recorder, { filter: parsed.filter, from: 0, limit: 2 });
    expect(page.seqs).toEqual([999, 1999]);
    expect(page.next).toBe(2000);
    const rest = await findTimeline(recorder, { filter: parsed.filter, from: page.next, limit: 1 });
    expect(rest.seqs).toEqual([2999]);
  });
});
