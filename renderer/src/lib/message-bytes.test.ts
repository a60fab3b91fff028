import { describe, expect, it } from "vitest";
import type { Span } from "../../../preload/timeline.ts";
import { assembleMessage, fieldAt, rangesOf, spansLength, streamPositionOf } from "./message-bytes.ts";
import { loadMessageBytes } from "./message-loader.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("a message split over chunks", () => {
  // The stream "in" so far: "+OK\r\n" (chunk 3, offsets 0..4), "$5\r\nhel" (chunk 5, 5..12), "lo\r\n" (chunk 8, 13..16).
  const chunks = new Map([
    [3, enc("+OK\r\n$5\r\nhel")],
    [8, enc("lo\r\n+PONG\r\n")],
  ]);
  const spans: Span[] = [{ dir: "in", offset: 5, length: 11 }];
  const pieces = [
    { seq: 3, start: 5, end: 12, spanIndex: 0 },
    { seq: 8, start: 0, end: 4, spanIndex: 0 },
  ];
  const message = assembleMessage(spans, pieces, (s) => chunks.get(s));

  it("gives back exactly its bytes, whatever the chunking", () => {
    expect(new TextDecoder().decode(message.data)).toBe("$5\r\nhello\r\n");
    expect(message.missing).toBe(0);
    expect(message.segments.map((s) => [s.seq, s.start, s.length, s.offset])).toEqual([
      [3, 0, 7, 5],
      [8, 7, 4, 12],
    ]);
  });

  it("highlights a field across the chunk boundary, and finds it from a byte on either side", () => {
    const value: Span[] = [{ dir: "in", offset: 9, length: 5 }];
    expect(rangesOf(value, message.segments)).toEqual([{ start: 4, end: 9 }]);
    const fieldSpans = { value, length: [{ dir: "in" as const, offset: 6, length: 1 }], whole: spans };
    for (const i of [4, 6, 7, 8]) {
      const at = streamPositionOf(i, message.segments)!;
      expect(fieldAt(fieldSpans, at.dir, at.fd, at.offset)).toBe("value");
    }
    const one = streamPositionOf(1, message.segments)!;
    expect(fieldAt(fieldSpans, one.dir, one.fd, one.offset)).toBe("length");
    const crlf = streamPositionOf(9, message.segments)!;
    expect(fieldAt(fieldSpans, crlf.dir, crlf.fd, crlf.offset)).toBe("whole");
    expect(fieldAt(fieldSpans, "out", undefined, 9)).toBeNull();
    expect(streamPositionOf(99, message.segments)).toBeNull();
  });

  it("counts what no chunk held as missing", () => {
    const cut = assembleMessage(spans, pieces, (s) => (s === 3 ? chunks.get(s) : undefined));
    expect(cut.data.length).toBe(7);
    expect(cut.missing).toBe(4);
    expect(spansLength(spans)).toBe(11);
  });
});

it("keeps the spans of a message in two directions apart", () => {
  const spans: Span[] = [
    { dir: "out", offset: 0, length: 2 },
    { dir: "in", offset: 0, length: 2 },
  ];
  const message = assembleMessage(
    spans,
    [
      { seq: 0, start: 0, end: 2, spanIndex: 0 },
      { seq: 1, start: 0, end: 2, spanIndex: 1 },
    ],
    (s) => (s === 0 ? enc("ab") : enc("cd")),
  );
  expect(rangesOf([{ dir: "in", offset: 1, length: 1 }], message.segments)).toEqual([{ start: 3, end: 4 }]);
});

describe("loadMessageBytes", () => {
  it("reads the chunks a message's spans lie in, nearby ones together, and puts its bytes together", async () => {
    const events = [
      { kind: "data" as const, seq: 10, t: 0, conn: 1, dir: "in" as const, data: enc("xxSE") },
      { kind: "lifecycle" as const, seq: 11, t: 0, conn: 1, event: "paused" as const, detail: "" },
      { kind: "data" as const, seq: 12, t: 0, conn: 1, dir: "in" as const, data: enc("T\r\n") },
    ];
    const reads: [number, number][] = [];
    const loaded = await loadMessageBytes(
      async () => ({
        ok: true,
        value: {
          pieces: [
            { seq: 10, start: 2, end: 4, spanIndex: 0 },
            { seq: 12, start: 0, end: 3, spanIndex: 0 },
          ],
        },
      }),
      async (from, count) => {
        reads.push([from, count]);
        return { events: events.filter((e) => e.seq >= from && e.seq < from + count), total: 13 };
      },
      [{ dir: "in", offset: 2, length: 5 }],
    );
    expect(reads).toEqual([[10, 3]]);
    expect(loaded.ok && new TextDecoder().decode(loaded.bytes.data)).toBe("SET\r\n");
  });
});

it("takes a process's stdin as one stream out, whether a span names fd 0 or not", () => {
  const message = assembleMessage(
    [{ dir: "out", offset: 0, length: 3 }],
    [{ seq: 2, start: 0, end: 3, spanIndex: 0 }],
    () => enc("abc"),
  );
  expect(rangesOf([{ dir: "out", fd: 0, offset: 1, length: 1 }], message.segments)).toEqual([{ start: 1, end: 2 }]);
  expect(fieldAt({ b: [{ dir: "out", offset: 1, length: 1 }] }, "out", 0, 1)).toBe("b");
  expect(fieldAt({ b: [{ dir: "in", fd: 1, offset: 1, length: 1 }] }, "in", 2, 1)).toBeNull();
});
