/**
 * The timeline index: what it answers without the capture file matches what the events say, however streams
 * interleave and however many chunks a run of bytes spans.
 */
import { describe, expect, it } from "vitest";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { EVENT_KIND, TimelineIndex } from "./timeline-index.ts";

function chunk(conn: number, dir: "in" | "out", text: string, fd?: number): NewTimelineEvent {
  const e: NewTimelineEvent = { kind: "data", t: 0, conn, dir, data: Buffer.from(text) };
  if (fd !== undefined) e.fd = fd;
  return e;
}

/** A timeline of interleaved streams, with what each chunk's offset must be. */
function interleaved(): { index: TimelineIndex; expected: Map<number, number> } {
  const index = new TimelineIndex();
  const totals = new Map<string, number>();
  const expected = new Map<number, number>();
  for (let seq = 0; seq < 5000; seq += 1) {
    const conn = 1 + (seq % 3);
    const dir = seq % 7 < 3 ? "in" : "out";
    const text = "x".repeat(1 + (seq % 11));
    const key = `${conn}${dir}`;
    expected.set(seq, totals.get(key) ?? 0);
    totals.set(key, (totals.get(key) ?? 0) + text.length);
    index.add(seq, seq * 10, chunk(conn, dir, text));
  }
  return { index, expected };
}

describe("TimelineIndex", () => {
  it("keeps kind, direction, connection, time and size of every event", () => {
    const index = new TimelineIndex();
    index.add(0, 100, { kind: "lifecycle", t: 0, conn: 1, event: "connected", detail: "" });
    index.add(1, 150, chunk(1, "out", "PING\r\n"));
    index.add(2, 180, { kind: "log", t: 0, conn: 1, level: "info", text: "note", fields: {} });
    index.add(3, 2 ** 40, {
      kind: "log",
      t: 0,
      conn: 70_000,
      level: "info",
      text: "PONG",
      fields: {},
      spans: [{ dir: "in", offset: 0, length: 7 }],
      pair: { role: "response", request: 1, latency: 1234 },
    });
    expect([0, 1, 2, 3].map((s) => index.kindOf(s))).toEqual([
      EVENT_KIND.lifecycle,
      EVENT_KIND.data,
      EVENT_KIND.log,
      EVENT_KIND.message,
    ]);
    expect([0, 1, 2, 3].map((s) => index.dirOf(s))).toEqual([null, "out", null, "in"]);
    expect([0, 1, 2, 3].map((s) => index.tOf(s))).toEqual([100, 150, 180, 2 ** 40]);
    expect([0, 1, 2, 3].map((s) => index.sizeOf(s))).toEqual([0, 6, 0, 7]);
    expect(index.connOf(3)).toBe(70_000);
    index.add(4, 2 ** 40, chunk(1, "in", "x".repeat(100_000)));
    expect([1, 3, 4].map((s) => index.sizeOf(s))).toEqual([6, 7, 100_000]);
    expect(index.connOf(1)).toBe(1);
    expect(index.latencyOf(3)).toBe(1234);
    expect(index.latencyOf(1)).toBeNaN();
    expect(index.seqAtT(160)).toBe(2);
  });

  it("keeps every event's connection, a few or hundreds in a block", () => {
    const index = new TimelineIndex();
    const conns = Array.from({ length: 600 }, (_, i) => (i === 400 ? 100_000 : 1 + (i % 300)));
    for (const conn of conns) index.add(index.count, 0, chunk(conn, "in", "x"));
    expect(conns.map((_, seq) => index.connOf(seq))).toEqual(conns);
  });

  it("keeps every event's time, in runs close together or far apart", () => {
    const index = new TimelineIndex();
    const times = [5, 6, 70_000, 70_001, 3_000_000_000, 3_000_000_000.5, 3_000_000_001];
    for (let block = 0; block < 3; block += 1) {
      // Close times (16 bits), then a gap of seconds (32 bits), then a fraction (kept as it is).
      const base = block * 1e9;
      const these = block === 0 ? Array.from({ length: 70_000 }, (_, i) => base + i) : times.map((t) => base + t);
      for (const t of these)
        index.add(index.count, t, { kind: "lifecycle", t: 0, conn: 1, event: "paused", detail: "" });
    }
    expect(index.tOf(0)).toBe(0);
    expect(index.tOf(69_999)).toBe(69_999);
    const at = (block: number, i: number): number => index.tOf(70_000 + block * times.length + i);
    expect(times.map((_, i) => at(0, i))).toEqual(times.map((t) => 1e9 + t));
    expect(times.map((_, i) => at(1, i))).toEqual(times.map((t) => 2e9 + t));
  });

  it("counts every chunk's stream offset, streams interleaved over many marks", () => {
    const { index, expected } = interleaved();
    for (const [seq, offset] of expected) expect(index.streamOffsetOf(seq)).toBe(offset);
  });

  it("locates a run of stream bytes across the chunks that hold it", () => {
    const { index, expected } = interleaved();
    // Connection 2, "out": every chunk of it, in order, from its offsets.
    const chunks = [...expected].filter(([seq]) => 1 + (seq % 3) === 2 && seq % 7 >= 3);
    const [firstSeq, firstOffset] = chunks[50]!;
    const [lastSeq, lastOffset] = chunks[850]!;
    const span = { dir: "out" as const, offset: firstOffset + 1, length: lastOffset + 1 - (firstOffset + 1) };
    const pieces = index.locate(2, span);
    expect(pieces.length).toBe(801);
    expect(pieces[0]).toEqual({ seq: firstSeq, start: 1, end: index.sizeOf(firstSeq) });
    expect(pieces.at(-1)).toEqual({ seq: lastSeq, start: 0, end: 1 });
    const covered = pieces.reduce((n, p) => n + p.end - p.start, 0);
    expect(covered).toBe(span.length);
    expect(index.locate(9, span)).toEqual([]);
  });

  it("keeps a process's stdout and stderr apart", () => {
    const index = new TimelineIndex();
    index.add(0, 0, chunk(1, "in", "out1", 1));
    index.add(1, 0, chunk(1, "in", "err1", 2));
    index.add(2, 0, chunk(1, "in", "out2", 1));
    expect(index.streamOffsetOf(2)).toBe(4);
    expect(index.locate(1, { dir: "in", fd: 2, offset: 0, length: 4 })).toEqual([{ seq: 1, start: 0, end: 4 }]);
    // What went to its stdin (fd 0) is the connection's one stream out, with or without the fd.
    index.add(3, 0, chunk(1, "out", "in1", 0));
    expect(index.locate(1, { dir: "out", offset: 1, length: 2 })).toEqual([{ seq: 3, start: 1, end: 3 }]);
  });

  it("finds the latest message covering a byte", () => {
    const index = new TimelineIndex();
    const message = (seq: number, offset: number, length: number): void =>
      index.add(seq, seq, {
        kind: "log",
        t: 0,
        conn: 1,
        level: "info",
        text: "m",
        fields: {},
        spans: [{ dir: "in", offset, length }],
      });
    message(0, 0, 10);
    message(1, 10, 10);
    message(2, 12, 3); // inside message 1: the later one wins
    message(3, 30, 5);
    expect(index.messageAt(1, "in", undefined, 0)).toBe(0);
    expect(index.messageAt(1, "in", undefined, 11)).toBe(1);
    expect(index.messageAt(1, "in", undefined, 13)).toBe(2);
    expect(index.messageAt(1, "in", undefined, 19)).toBe(1);
    expect(index.messageAt(1, "in", undefined, 25)).toBeNull();
    expect(index.messageAt(1, "out", undefined, 0)).toBeNull();
    message(4, 5, 2); // out of order: still found
    expect(index.messageAt(1, "in", undefined, 6)).toBe(4);
    expect(index.messageAt(1, "in", undefined, 32)).toBe(3);
  });

  it("finds the message of every byte among thousands, in order or not", () => {
    const index = new TimelineIndex();
    // Messages of 10 bytes back to back, then one message over bytes 5000..5019 recorded last.
    const spans = Array.from({ length: 1000 }, (_, i) => ({ offset: i * 10, length: 10 }));
    spans.push({ offset: 5000, length: 20 });
    spans.forEach((span, seq) =>
      index.add(seq, seq, {
        kind: "log",
        t: 0,
        conn: 1,
        level: "info",
        text: "m",
        fields: {},
        spans: [{ dir: "out", ...span }],
      }),
    );
    for (let offset = 0; offset < 10_000; offset += 7) {
      const expected = offset >= 5000 && offset < 5020 ? 1000 : Math.floor(offset / 10);
      expect(index.messageAt(1, "out", undefined, offset)).toBe(expected);
    }
    expect(index.messageAt(1, "out", undefined, 10_000)).toBeNull();
  });
});
