/**
 * From a decoded message to its bytes and back: a message spread over many chunks is located piece by piece, and a
 * byte leads to its message and narrowest field.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Recorder } from "../recording/recorder.ts";
import { locateSpans, messageAt } from "./message-bytes.ts";

let dir: string;
let recorder: Recorder;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "message-bytes-"));
  recorder = await Recorder.create(path.join(dir, "t.wscap"), { kind: "client" });
});
afterEach(async () => {
  await recorder.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("locateSpans and messageAt", () => {
  it("give a message's bytes across chunks, and the message and field of a byte", async () => {
    // "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n" in chunks of 3 bytes, the other direction interleaved.
    const wire = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n";
    for (let i = 0; i < wire.length; i += 3) {
      recorder.append({ kind: "data", t: i, conn: 1, dir: "in", data: Buffer.from(wire.slice(i, i + 3)) });
      recorder.append({ kind: "data", t: i, conn: 1, dir: "out", data: Buffer.from("+OK\r\n") });
    }
    const key = wire.indexOf("key");
    const message = recorder.append({
      kind: "log",
      t: 100,
      conn: 1,
      level: "info",
      text: "SET key hello",
      fields: { command: "SET", args: ["key", "hello"] },
      spans: [{ dir: "in", offset: 0, length: wire.length }],
      fieldSpans: {
        command: [{ dir: "in", offset: wire.indexOf("SET"), length: 3 }],
        "args.0": [{ dir: "in", offset: key, length: 3 }],
        args: [{ dir: "in", offset: key - 6, length: wire.length - (key - 6) }],
      },
    });
    const events = await recorder.read(0, recorder.count);
    const pieces = locateSpans(recorder, 1, [{ dir: "in", offset: key, length: 11 }]);
    const bytes = pieces.map((p) => {
      const e = events[p.seq]!;
      return e.kind === "data" ? Buffer.from(e.data.subarray(p.start, p.end)).toString() : "";
    });
    expect(bytes.join("")).toBe("key\r\n$5\r\nhe");
    expect(pieces.every((p) => p.spanIndex === 0 && events[p.seq]?.kind === "data")).toBe(true);

    expect(await messageAt(recorder, { conn: 1, dir: "in", offset: key + 1 })).toEqual({
      seq: message.seq,
      field: "args.0",
    });
    expect(await messageAt(recorder, { conn: 1, dir: "in", offset: wire.indexOf("hello") })).toEqual({
      seq: message.seq,
      field: "args",
    });
    expect(await messageAt(recorder, { conn: 1, dir: "in", offset: 0 })).toEqual({ seq: message.seq, field: null });
    expect(await messageAt(recorder, { conn: 1, dir: "out", offset: 0 })).toEqual({ seq: null, field: null });
  });
});
