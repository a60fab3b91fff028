import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { TimelinePrinter } from "./printer.ts";

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
