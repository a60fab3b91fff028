/**
 * Log events whose payload head arrives as bytes (a sandboxed protocol's: the worker writes it, wire-log-entries.ts):
 * recorded by copying it, they must read back exactly as the same event given with parsed fields would, from the
 * window and from the capture file, and their payload must be byte for byte the one written for that event (readers
 * of old and new files see no change).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LogTimelineEvent, Span } from "../../preload/timeline.ts";
import { LogEntryWriter, readLogEntry, type LogEntryEvent } from "../sandbox/wire-log-entries.ts";
import { encodedLogTail, jsonPayload } from "./capture-encoding.ts";
import { LOG_LEVELS } from "./capture-format.ts";
import { CaptureReader } from "./capture-reader.ts";
import { EncodedLogEvent } from "./encoded-log-event.ts";
import { Recorder } from "./recorder.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-encoded-log-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// JSON-safe fields, as the worker makes them (JSON text of a plain object); "__proto__" among the keys on purpose.
const jsonFields = fc
  .dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), fc.jsonValue())
  .map((f) => JSON.parse(JSON.stringify(f)) as Record<string, unknown>);
// Mostly spans as message-check.ts makes them; now and then one it would not (written by JSON.stringify then).
const count = fc.oneof({ weight: 9, arbitrary: fc.nat() }, fc.double({ noNaN: true, noDefaultInfinity: true }));
const span = fc.record(
  {
    dir: fc.oneof({ weight: 9, arbitrary: fc.constantFrom("in" as const, "out" as const) }, fc.constant("x")),
    offset: count,
    length: fc.nat(),
    fd: fc.nat(2),
  },
  { requiredKeys: ["dir", "offset", "length"] },
) as fc.Arbitrary<Span>;
const logEvent = fc.record(
  {
    seq: fc.constant(0),
    t: fc.nat(),
    conn: fc.nat(20),
    kind: fc.constant("log" as const),
    level: fc.constantFrom(...LOG_LEVELS),
    text: fc.string({ unit: "binary" }),
    fields: jsonFields,
    spans: fc.array(span, { maxLength: 3 }),
    fieldSpans: fc.dictionary(fc.string(), fc.array(span, { maxLength: 2 })),
    pair: fc.record(
      { role: fc.constantFrom("request" as const, "response" as const), key: fc.string(), request: fc.nat() },
      { requiredKeys: ["role"] },
    ),
  },
  { requiredKeys: ["seq", "t", "conn", "kind", "level", "text", "fields"] },
);

/** The event the main thread reads from the entry the worker writes for a log event of `text` and `fields`. */
function entryEvent(level: LogTimelineEvent["level"], text: string, fields: unknown): LogEntryEvent {
  const writer = new LogEntryWriter();
  writer.add(1, { level, namespace: "n", text, fieldsJson: JSON.stringify(fields), time: 0 });
  const buf = Buffer.from(writer.take()!);
  const entry: { id: number | null; event: LogEntryEvent | null } = { id: null, event: null };
  expect(readLogEntry(buf, new DataView(buf.buffer), 0, entry)).toBe(buf.readUInt32LE(0));
  return entry.event!;
}

/** `e` as the engine records a sandboxed protocol's event: its payload head as the worker wrote it. */
function encoded(e: LogTimelineEvent): EncodedLogEvent {
  const event = new EncodedLogEvent(e.seq, e.t, e.conn, e.level, entryEvent(e.level, e.text, e.fields));
  if (e.spans !== undefined) event.spans = e.spans;
  if (e.fieldSpans !== undefined) event.fieldSpans = e.fieldSpans;
  if (e.pair !== undefined) event.pair = e.pair;
  return event;
}

describe("log events with their fields as JSON text", () => {
  it("have the payload the same event with parsed fields has, byte for byte", () => {
    fc.assert(
      fc.property(logEvent, (e) => {
        const event = encoded(e);
        const head = Buffer.alloc(event.source.headBytes);
        event.source.copyHead(head, 0);
        expect(head.toString("utf8") + encodedLogTail(event)).toBe(jsonPayload(e));
      }),
    );
  });

  it("read back as plain events, equal to what was given, from the window and from the capture", async () => {
    const given = fc.sample(logEvent, { numRuns: 200, seed: 15 }).map((e, seq) => ({ ...e, seq }));
    const file = path.join(dir, "encoded.wscap");
    const recorder = await Recorder.create(file, {}, { windowEvents: 100 }); // half of them fall out of the window
    const offset = recorder.timeOffset;
    for (const e of given) recorder.append(encoded({ ...e, t: e.t - offset }));
    const read = await recorder.read(0, given.length);
    expect(read).toEqual(given);
    expect(read.every((e) => Object.getPrototypeOf(e) === Object.prototype)).toBe(true); // nothing crosses IPC half
    await recorder.close();
    const reader = await CaptureReader.open(file);
    try {
      expect(await reader.read(0, given.length)).toEqual(given);
    } finally {
      await reader.close();
    }
  });

  it("parse their fields once, when first read", () => {
    const e = new EncodedLogEvent(0, 0, 1, "info", entryEvent("info", "x", { n: 1 }));
    expect(e.fields).toEqual({ n: 1 });
    expect(e.fields).toBe(e.fields);
    expect(e.plain()).toEqual({ seq: 0, t: 0, conn: 1, kind: "log", level: "info", text: "x", fields: { n: 1 } });
  });
});
