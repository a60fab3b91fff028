import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { TimelinePrinter } from "./printer.ts";

const request: TimelineEvent = {
  seq: 4,
  t: 1_000,
  conn: 1,
  kind: "log",
  level: "info",
  text: "SET greeting",
  fields: { command: "SET", key: "greeting" },
  spans: [{ dir: "out", offset: 0, length: 20 }],
  fieldSpans: { key: [{ dir: "out", offset: 4, length: 8 }] },
  pair: { role: "request" },
};
const response: TimelineEvent = {
  seq: 7,
  t: 2_250,
  conn: 1,
  kind: "log",
  level: "info",
  text: "reply OK",
  fields: { text: "OK" },
  spans: [{ dir: "in", offset: 0, length: 4 }],
  pair: { role: "response", request: 4, latency: 1_250 },
};
const plain: TimelineEvent = { seq: 8, t: 2_300, conn: 1, kind: "log", level: "info", text: "a note", fields: {} };

function print(json: boolean, events: TimelineEvent[]): string[] {
  let out = "";
  const printer = new TimelinePrinter({ write: (text: string) => (out += text) }, { json, hex: false }, 0);
  printer.print(events);
  return out.trimEnd().split("\n");
}

describe("TimelinePrinter and decoded messages", () => {
  it("--json carries a decoded message's spans, field spans and pairing; a plain log line has none", () => {
    const [req, res, note] = print(true, [request, response, plain]).map((line) => JSON.parse(line) as object);
    expect(req).toMatchObject({ spans: [{ dir: "out", offset: 0, length: 20 }], pair: { role: "request" } });
    expect(req).toMatchObject({ fieldSpans: { key: [{ dir: "out", offset: 4, length: 8 }] } });
    expect(res).toMatchObject({
      spans: [{ dir: "in", offset: 0, length: 4 }],
      pair: { role: "response", request: 4, latency: 1_250 },
    });
    expect(Object.keys(note!)).not.toContain("spans");
  });

  it("a paired response's line says which request it answers and how long that took", () => {
    expect(print(false, [request, response, plain])).toEqual([
      "0.000000 #1 info: SET greeting",
      "0.001250 #1 info: reply OK  (answers seq 4 in 1.250 ms)",
      "0.001300 #1 info: a note",
    ]);
  });
});

/** A burst as a busy proxy records it: `n` chunks of "+OK\r\n", alternating directions, 10 us apart. */
function burst(n: number): TimelineEvent[] {
  return Array.from({ length: n }, (_, seq) => ({
    kind: "data",
    seq,
    t: 1000 + seq * 10,
    conn: 1 + (seq % 2),
    dir: seq % 2 === 0 ? "in" : "out",
    data: Buffer.from("+OK\r\n"),
  }));
}

describe("the CLI's timeline printer", () => {
  it("writes a batch of events to stdout at once, one line each, in order", () => {
    const writes: string[] = [];
    const printer = new TimelinePrinter({ write: (text: string) => writes.push(text) }, { json: false, hex: false }, 0);
    printer.print(burst(1000));
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split("\n");
    expect(lines).toHaveLength(1001);
    expect(lines[0]).toBe("0.000000 #1 <- 5 B  +OK\\r\\n");
    expect(lines[999]).toBe("0.009990 #2 -> 5 B  +OK\\r\\n");
    expect(lines[1000]).toBe("");
  });

  it("writes nothing for an empty batch", () => {
    const writes: string[] = [];
    new TimelinePrinter({ write: (text: string) => writes.push(text) }, { json: true, hex: false }, 0).print([]);
    expect(writes).toEqual([]);
  });
});
