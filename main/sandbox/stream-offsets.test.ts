import { describe, expect, it } from "vitest";
import { MAX_STREAM_GAPS, StreamOffsets } from "./stream-offsets.ts";

/** The stream offset StreamOffsets gives a span at `offset` among the bytes sent to the worker. */
function mapped(offsets: StreamOffsets, offset: number, fd?: number): number {
  const message = { spans: [{ dir: "in", offset, length: 1, ...(fd === undefined ? {} : { fd }) }] };
  offsets.mapMessage(message);
  return message.spans[0]!.offset;
}

describe("StreamOffsets", () => {
  it("leaves offsets as they are while every byte reaches the worker", () => {
    const offsets = new StreamOffsets();
    offsets.attached();
    offsets.received(10, undefined, true);
    offsets.received(5, undefined, true);
    expect(mapped(offsets, 12)).toBe(12);
  });

  it("skips the bytes that arrived while the protocol was halted", () => {
    const offsets = new StreamOffsets();
    offsets.received(10, undefined, true);
    offsets.received(7, undefined, false); // halted: recorded, not sent
    offsets.received(5, undefined, true);
    expect(mapped(offsets, 9)).toBe(9);
    expect(mapped(offsets, 10)).toBe(17);
    expect(mapped(offsets, 14)).toBe(21);
  });

  it("counts from the stream's current end after a new worker took the connection, per fd", () => {
    const offsets = new StreamOffsets();
    offsets.received(10, 1, true);
    offsets.received(4, 2, true);
    offsets.attached();
    offsets.received(3, 1, true);
    expect(mapped(offsets, 0, 1)).toBe(10);
    expect(mapped(offsets, 2, 1)).toBe(12);
    expect(mapped(offsets, 0, 2)).toBe(4);
  });

  it('maps field spans too, leaves "out" spans and malformed ones alone, and keeps a bounded number of gaps', () => {
    const offsets = new StreamOffsets();
    for (let i = 0; i < MAX_STREAM_GAPS + 10; i++) {
      offsets.received(1, undefined, true);
      offsets.received(1, undefined, false);
    }
    const message = {
      spans: [{ dir: "out", offset: 3, length: 1 }, "junk", { dir: "in", offset: "3" }],
      fieldSpans: { key: [{ dir: "in", offset: MAX_STREAM_GAPS + 9, length: 1 }] },
    };
    offsets.mapMessage(message);
    expect(message.spans).toEqual([{ dir: "out", offset: 3, length: 1 }, "junk", { dir: "in", offset: "3" }]);
    expect(message.fieldSpans.key[0]!.offset).toBe(2 * (MAX_STREAM_GAPS + 9));
  });
});
