/**
 * How the worker's batches cross to the main thread (encodeBatch / decodeBatch): one JSON text of operations beside
 * the transferred bytes, usual log events as flat lists. What the engine would notice: every operation arrives as the
 * worker queued it, log events of every shape included, and anything else posted on the worker's port is ignored
 * rather than thrown on the engine's thread.
 */
import { describe, expect, test } from "vitest";
import type { Batch, FromWorker } from "./messages.ts";
import { decodeBatch, encodeBatch } from "./wire-batch.ts";

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
    const decoded = decodeBatch(structuredClone(encodeBatch(batch)));
    expect(decoded).not.toBeNull();
    expect(decoded!.ops).toEqual(batch.ops);
    expect(decoded!.partial).toBe(true);
    expect(new Uint8Array(decoded!.bytes!)).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  test("a batch that ends a turn is not taken for a partial one, and one without bytes has none", () => {
    const decoded = decodeBatch(encodeBatch({ ops: [{ op: "heartbeat", heapUsed: 1 }], bytes: null }));
    expect(decoded).toEqual({ ops: [{ op: "heartbeat", heapUsed: 1 }], bytes: null });
  });

  test("log events of every shape arrive as queued, flat or not", () => {
    const event = { level: "debug" as const, namespace: "n", text: "t", fieldsJson: '{"a":1}', time: 1765067000.123 };
    const span = (dir: "in" | "out", offset: number) => ({ dir, offset, length: 64 });
    const messages: unknown[] = [
      undefined,
      { spans: [] },
      { spans: [span("in", 0), span("out", 1e15)] },
      { spans: [{ ...span("in", 3), fd: 1 }] },
      { spans: [span("in", 0)], pair: { role: "response" } },
      { spans: [span("in", 0)], fieldSpans: { a: [span("in", 1)] } },
      { spans: [{ dir: "in", offset: "Infinity", length: 1, note: "<function note>" }] },
      { spans: "not a list" },
      "not an object",
    ];
    const ops: FromWorker[] = messages.map((message, i) => ({
      op: "log",
      id: i % 2 === 0 ? i : null,
      event: message === undefined ? event : { ...event, message },
    }));
    ops.push({ op: "log", id: 1, event: { ...event, time: 1 / 3 } }); // not whole milliseconds: not flat
    expect(decodeBatch(encodeBatch({ ops, bytes: null }))!.ops).toEqual(ops);
    expect(encodeBatch({ ops: ops.slice(0, 1), bytes: null }).ops).toBe(
      JSON.stringify([[0, "debug", "n", "t", '{"a":1}', 1765067000123, -1]]),
    );
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

  test("an operation that can't be read is skipped, and the batch's others (its writes) are kept", () => {
    const unreadable = [
      "1", // not an object
      '[1, "info", "n", "t", "{}", 0, -1, 0]', // a flat log event with a stray item
      '[1, "loud", "n", "t", "{}", 0, -1]', // no such level
      '[1, "info", "n", "t", {}, 0, -1]', // fields that are not JSON text
      '[1, "info", "n", "t", "{}", 0, 2, 0, 1, 2]', // fewer spans than it says
    ];
    const write = { op: "write", id: 1, offset: 0, length: 2 };
    for (const op of unreadable) {
      const decoded = decodeBatch({ ops: `[${op}, ${JSON.stringify(write)}]`, bytes: null });
      expect(decoded?.ops).toEqual([write]);
    }
  });

  test("a log event of a level or namespace the engine doesn't know crosses as an object, never flat", () => {
    const event = { level: "notice", namespace: 7, text: "t", fieldsJson: "{}", time: 1 };
    const op = { op: "log", id: 1, event } as unknown as FromWorker;
    expect(JSON.parse(encodeBatch({ ops: [op], bytes: null }).ops)).toEqual([op]);
  });
});
