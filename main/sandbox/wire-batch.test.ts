/**
 * How the worker's batches cross to the main thread (BatchEncoder / decodeBatch): one JSON text of operations beside
 * the transferred bytes, log events as binary entries (wire-log-entries.ts). What the engine would notice: every
 * operation arrives as the worker queued it, in order, log events of every shape included, each with the payload
 * head the capture records; and anything else posted on the worker's port is ignored rather than thrown on the
 * engine's thread.
 */
import { describe, expect, test } from "vitest";
import type { Batch, FromWorker, SandboxLogEvent, WireLogEvent } from "./messages.ts";
import { receivedLogEvent } from "./received-log-event.ts";
import { BatchEncoder, decodeBatch, type WireBatch } from "./wire-batch.ts";

/** `batch` as the worker posts it, after a structured clone (what postMessage does). */
function encodeBatch(batch: Batch<FromWorker>): WireBatch {
  const transfer: ArrayBuffer[] = [];
  const wire = new BatchEncoder().encode(batch, transfer);
  expect(transfer).toEqual(wire.logs === undefined ? [] : [wire.logs]);
  return structuredClone(wire);
}

/** The operations of `batch` with each log event as the engine reads it: its parts and its payload head as text. */
function asRead(ops: FromWorker[]): unknown[] {
  return ops.map((op) => {
    if (op.op !== "log") return op;
    const e: SandboxLogEvent = receivedLogEvent(op.event);
    const head = Buffer.alloc(e.headBytes);
    e.copyPayload(head, 0, e.headBytes);
    const { level, namespace, text, fieldsJson, time, message } = e;
    const event: Record<string, unknown> = { level, namespace, text, fieldsJson, time, head: head.toString() };
    if (message !== undefined) event["message"] = message;
    return { op: "log", id: op.id, event };
  });
}

/** `ops` as the engine should read them: each log event with the payload head of its text and fields. */
function expected(ops: FromWorker[]): unknown[] {
  return ops.map((op) => {
    if (op.op !== "log") return op;
    const head = `{"text":${JSON.stringify(op.event.text)},"fields":${op.event.fieldsJson}`;
    return { op: "log", id: op.id, event: { ...op.event, head } };
  });
}

/** A batch as the runtime queues it: bytes, a decoded message, awkward fields, a partial turn. */
function sampleBatch(): Batch<FromWorker> {
  const bytes = new Uint8Array([1, 2, 3, 4]).buffer;
  const fields = { n: 7, text: 'é ☃ \u0000 \ud800 "quoted"', nested: { list: [1, "two", null] } };
  return {
    ops: [
      { op: "write", id: 1, offset: 0, length: 4 },
      {
        op: "log",
        id: 1,
        event: {
          level: "info",
          namespace: "Lines",
          text: "line 7",
          fieldsJson: JSON.stringify(fields),
          time: 1.5,
          message: { spans: [{ dir: "in", offset: 64, length: 64 }], pair: { role: "request" } },
        },
      },
      { op: "log", id: null, event: { level: "warn", namespace: "m", text: "", fieldsJson: "{}", time: 2 } },
      { op: "ack", id: 1, bytes: 128 },
      { op: "startTLS", id: 1, request: { servername: "example.test", ALPNProtocols: ["h2"] } },
      { op: "halted", id: 1, error: { callback: "dataReceived", message: "boom", stack: "Error: boom" }, reason: "x" },
    ],
    bytes,
    partial: true,
  };
}

describe("worker batches across threads", () => {
  test("arrive with every operation, field and flag as queued, and the same bytes", () => {
    const batch = sampleBatch();
    const decoded = decodeBatch(encodeBatch(batch));
    expect(decoded).not.toBeNull();
    expect(asRead(decoded!.ops)).toEqual(expected(batch.ops));
    expect(decoded!.partial).toBe(true);
    expect(new Uint8Array(decoded!.bytes!)).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  test("a batch that ends a turn is not taken for a partial one, and one without bytes has none", () => {
    const decoded = decodeBatch(encodeBatch({ ops: [{ op: "heartbeat", heapUsed: 1 }], bytes: null }));
    expect(decoded).toEqual({ ops: [{ op: "heartbeat", heapUsed: 1 }], bytes: null });
  });

  test("log events of every shape arrive as queued, in order with the other operations", () => {
    const event = { level: "debug" as const, namespace: "n", text: "t", fieldsJson: '{"a":1}', time: 1765067000.123 };
    const span = (dir: "in" | "out", offset: number) => ({ dir, offset, length: 64 });
    const messages: unknown[] = [
      undefined,
      { spans: [] },
      { spans: [span("in", 0), span("out", 1e15)] },
      { spans: [{ ...span("in", 3), fd: 1 }] },
      { spans: [span("in", 0)], pair: { role: "response" } },
      { spans: [span("in", 0)], fieldSpans: { a: [span("in", 1)] } },
      {
        spans: [span("out", 7)],
        fieldSpans: { "args.0": [span("out", 9), span("out", 12)], "é ☃": [], __proto__x: [span("in", 1)] },
        pair: { role: "request", key: "k ☃" },
      },
      { spans: [], fieldSpans: {}, pair: { role: "response", key: "" } },
      { spans: [span("in", 0)], pair: { role: "response", request: 4 } }, // what the engine fills: as JSON
      { spans: [span("in", 0)], pair: { role: "sideways" } },
      { spans: [span("in", 0)], fieldSpans: { a: [{ ...span("in", 1), fd: 2 }] } },
      { spans: [{ dir: "in", offset: "Infinity", length: 1, note: "<function note>" }] },
      { spans: "not a list" },
      "not an object",
    ];
    const ops: FromWorker[] = messages.map((message, i) => ({
      op: "log",
      id: i % 2 === 0 ? i : null,
      event: message === undefined ? event : { ...event, message },
    }));
    ops.push({ op: "log", id: 1, event: { ...event, time: 1 / 3, text: "é ☃ \ud800", namespace: "ns ☃" } });
    ops.splice(3, 0, { op: "ack", id: 1, bytes: 3 }); // a run of entries, an object, another run
    const wire = encodeBatch({ ops, bytes: null });
    expect(JSON.parse(wire.ops)).toEqual([3, { op: "ack", id: 1, bytes: 3 }, ops.length - 4]);
    expect(asRead(decodeBatch(wire)!.ops)).toEqual(expected(ops));
  });

  test("anything else posted on the worker's port is ignored", () => {
    const notBatches: unknown[] = [
      undefined,
      null,
      "text",
      42,
      [],
      { ops: [{ op: "heartbeat", heapUsed: 1 }], bytes: null }, // a structured batch: not what the worker posts
      { ops: "[", bytes: null }, // not JSON
      { ops: '{"op":"heartbeat"}', bytes: null }, // JSON, not a list
      { ops: "[]", bytes: new Uint8Array(4) }, // bytes that are not a transferred ArrayBuffer
      { ops: "[]" }, // no bytes at all
    ];
    for (const message of notBatches) expect(decodeBatch(message)).toBeNull();
  });

  test("log entries that can't be read are skipped, and the batch's other operations (its writes) are kept", () => {
    const log: FromWorker = {
      op: "log",
      id: 1,
      event: { level: "info", namespace: "n", text: "t", fieldsJson: "{}", time: 1, message: { spans: [] } },
    };
    const good = encodeBatch({ ops: [log], bytes: null }).logs!;
    const write = { op: "write", id: 1, offset: 0, length: 2 };
    const damaged: ArrayBuffer[] = [
      good.slice(0, good.byteLength - 1), // cut short
      new ArrayBuffer(0), // none at all
      withByte(good, 20, 9), // no such level
      withByte(good, 21, 7), // no such message form
      withUint32(good, 0, 1_000_000), // longer than the buffer
      withUint32(good, 24, 3), // a head too short to be one
      ...forged(), // payload bytes that are not what the worker's encoder writes
    ];
    for (const logs of damaged) {
      const decoded = decodeBatch({ ops: JSON.stringify([1, write, "text", 1]), bytes: null, logs });
      expect(decoded?.ops).toEqual([write]);
    }
    expect(asRead(decodeBatch({ ops: "[1]", bytes: null, logs: good })!.ops)).toEqual(expected([log]));
  });

  test("a log event of a level or namespace the engine doesn't know crosses as an object, not an entry", () => {
    for (const odd of [{ level: "notice" }, { namespace: 7 }]) {
      const event = { level: "info", namespace: "n", text: "t", fieldsJson: "{}", time: 1, ...odd };
      const op = { op: "log", id: 1, event } as unknown as FromWorker;
      const wire = encodeBatch({ ops: [op], bytes: null });
      expect(JSON.parse(wire.ops)).toEqual([op]);
      expect(wire.logs).toBeUndefined();
    }
  });
});

describe("log events that crossed as objects (what the watchdog reads from a hung worker)", () => {
  test("are made safe to record, whatever user code put in them", () => {
    const odd = [
      { level: "bogus", namespace: 7, text: 5, fieldsJson: "nope", time: "now" },
      { level: "info", namespace: "n", text: "t", fieldsJson: '{},"pair":{"role":"response"}', time: 1 },
      { level: "info", namespace: "n", fieldsJson: "[1]", time: 1 },
    ] as unknown as WireLogEvent[];
    for (const wire of odd) {
      const e = receivedLogEvent(wire);
      expect(["info"]).toContain(e.level);
      expect(typeof e.text).toBe("string");
      expect(typeof e.namespace).toBe("string");
      expect(Number.isFinite(e.time)).toBe(true);
      const head = Buffer.alloc(e.headBytes);
      e.copyPayload(head, 0, e.headBytes);
      const payload = JSON.parse(`${head.toString()}}`) as { text: unknown; fields: unknown };
      expect(payload).toEqual({
        text: e.text,
        fields: { unreadable: expect.stringMatching(/not the JSON of an object/) },
      });
      expect(e.fields).toEqual(payload.fields);
    }
  });
});

/**
 * Entries whose payload bytes user code forged (it can post on its worker's port): recorded as they are, they would
 * make the capture unreadable or carry spans and pairing the engine never checked.
 */
function forged(): ArrayBuffer[] {
  const entry = (fieldsJson: string, message?: unknown) => {
    const event = { level: "info" as const, namespace: "n", text: "t", fieldsJson, time: 1 };
    const op: FromWorker = { op: "log", id: 1, event: message === undefined ? event : { ...event, message } };
    return encodeBatch({ ops: [op], bytes: null }).logs!;
  };
  const spans = { spans: [{ dir: "in", offset: 1024, length: 64 }] };
  const tailDigit = entry("{}", spans);
  const digit = Buffer.from(tailDigit).lastIndexOf("1024");
  // A message with field spans and pairing: its path's length (a u16 after 32 bytes of fixed part, one span and the
  // count of paths) made longer than the entry.
  const parts = entry("{}", {
    spans: [{ dir: "in", offset: 0, length: 1 }],
    fieldSpans: { a: [] },
    pair: { role: "request" },
  });
  return [
    withByte(parts, 32 + 2 + 17 + 2 + 1, 0xff),
    withByte(parts, parts.byteLength > 0 ? new DataView(parts).getUint32(0, true) - 1 : 0, 0x7b), // a head not ending its fields
    entry("xxxx"), // not JSON
    entry('{},"spans":[{"dir":"in","offset":-5,"length":1e300}],"pair":{"role":"response","request":7}'),
    entry("{}}"),
    withByte(tailDigit, digit, "2".charCodeAt(0)), // a tail that says another offset than the entry's span
  ];
}

/** A copy of `buffer` with byte `at` set to `value`. */
function withByte(buffer: ArrayBuffer, at: number, value: number): ArrayBuffer {
  const copy = buffer.slice(0);
  new DataView(copy).setUint8(at, value);
  return copy;
}

/** A copy of `buffer` with the u32 at `at` set to `value`. */
function withUint32(buffer: ArrayBuffer, at: number, value: number): ArrayBuffer {
  const copy = buffer.slice(0);
  new DataView(copy).setUint32(at, value, true);
  return copy;
}
