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
import { encodedLogParts, jsonPayload } from "./capture-encoding.ts";
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

/** The event the main thread reads from the entry the worker writes for a log event of `text`, `fields`, `message`. */
function entryEvent(level: LogTimelineEvent["level"], text: string, fields: unknown, message?: unknown): LogEntryEvent {
  const writer = new LogEntryWriter();
  const event = { level, namespace: "n", text, fieldsJson: JSON.stringify(fields), time: 0 };
  writer.add(1, message === undefined ? event : { ...event, message });
  const buf = Buffer.from(writer.take()!);
  const entry: { id: number | null; event: LogEntryEvent | null } = { id: null, event: null };
  expect(readLogEntry(buf, new DataView(buf.buffer), 0, entry)).toBe(buf.readUInt32LE(0));
  return entry.event!;
}

/**
 * `e` as the engine records a sandboxed protocol's event: its payload as the worker wrote it for the message it
 * logged (`logged`: the spans alone, as the usual message is; or all the parts; or what a refused message was).
 */
function encoded(e: LogTimelineEvent, logged: "spans" | "all" | "other" = "all"): EncodedLogEvent {
  const parts = { spans: e.spans, fieldSpans: e.fieldSpans, pair: e.pair };
  const message =
    e.spans === undefined
      ? logged === "other"
        ? { spans: "refused" }
        : undefined
      : logged === "spans"
        ? { spans: e.spans }
        : (JSON.parse(JSON.stringify(parts)) as unknown);
  const event = new EncodedLogEvent(e.seq, e.t, e.conn, e.level, entryEvent(e.level, e.text, e.fields, message));
  if (e.spans !== undefined) event.spans = e.spans;
  if (e.fieldSpans !== undefined) event.fieldSpans = e.fieldSpans;
  if (e.pair !== undefined) event.pair = e.pair;
  return event;
}

describe("log events with their fields as JSON text", () => {
  it("have the payload the same event with parsed fields has, byte for byte", () => {
    fc.assert(
      fc.property(logEvent, (e) => {
        for (const logged of ["spans", "all", "other"] as const) {
          const event = encoded(e, logged);
          const { copied, tail } = encodedLogParts(event);
          const written = Buffer.alloc(copied);
          event.source.copyPayload(written, 0, copied);
          expect(written.toString("utf8") + tail).toBe(jsonPayload(e));
        }
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

  it("are recorded from the worker's whole payload when the engine keeps the message as logged, else from its head", () => {
    const spans: Span[] = [{ dir: "in", offset: 64, length: 64 }];
    const e: LogTimelineEvent = { seq: 0, t: 0, conn: 1, kind: "log", level: "info", text: "line ☃", fields: { n: 2 } };
    const payload = (event: EncodedLogEvent) => {
      const { copied, tail } = encodedLogParts(event);
      const written = Buffer.alloc(copied);
      event.source.copyPayload(written, 0, copied);
      return { tail, text: written.toString("utf8") + tail };
    };
    const kept = encoded({ ...e, spans }, "spans");
    expect(payload(kept)).toEqual({ tail: "", text: jsonPayload({ ...e, spans }) });
    const plain = encoded(e);
    expect(payload(plain)).toEqual({ tail: "", text: jsonPayload(e) });
    // The engine moved the span onto the stream (bytes skipped while halted): the payload says where it is now.
    const moved = encoded({ ...e, spans }, "spans");
    moved.spans = [{ dir: "in", offset: 1064, length: 64 }];
    expect(payload(moved).text).toBe(jsonPayload({ ...e, spans: moved.spans }));
    // The engine refused the message (no spans recorded), or paired it: written after the head.
    const refused = encoded({ ...e, spans }, "spans");
    refused.spans = undefined;
    expect(payload(refused).text).toBe(jsonPayload(e));
    const paired = encoded({ ...e, spans }, "spans");
    paired.pair = { role: "response", request: 3, latency: 12 };
    expect(payload(paired).text).toBe(jsonPayload({ ...e, spans, pair: paired.pair }));
  });

  it("parse their fields once, when first read", () => {
    const e = new EncodedLogEvent(0, 0, 1, "info", entryEvent("info", "x", { n: 1 }));
    expect(e.fields).toEqual({ n: 1 });
    expect(e.fields).toBe(e.fields);
    expect(e.plain()).toEqual({ seq: 0, t: 0, conn: 1, kind: "log", level: "info", text: "x", fields: { n: 1 } });
  });
});
