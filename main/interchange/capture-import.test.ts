import { describe, expect, it } from "vitest";
import { writePcap, type Frame } from "../../tests/helpers/pcap-fixture.ts";
import { importCaptureBytes, importCaptureStream, importFootprint } from "./capture-import.ts";
import { ACK, FIN, PSH, SYN, tcpFrame, type FrameEnd } from "./tcp-packet.ts";

const ETHERNET = 1;
const CLIENT: FrameEnd = { mac: new Uint8Array(6).fill(1), ip: Uint8Array.of(127, 0, 0, 1), port: 40000 };
const SERVER: FrameEnd = { mac: new Uint8Array(6).fill(2), ip: Uint8Array.of(127, 0, 0, 1), port: 23 };

/** A pcap of one telnet-like connection: a handshake, `count` one-byte segments from the client ("a", "b", ...), a FIN. */
function keystrokes(count: number): Uint8Array {
  const frames: Frame[] = [];
  const add = (from: FrameEnd, to: FrameEnd, seq: number, flags: number, payload?: Uint8Array) =>
    frames.push({
      micros: 1_700_000_000_000_000 + frames.length * 1000,
      data: tcpFrame({ from, to, seq, ack: 0, flags, window: 1000, payload, ipId: frames.length }),
    });
  add(CLIENT, SERVER, 1000, SYN);
  add(SERVER, CLIENT, 5000, SYN | ACK);
  add(CLIENT, SERVER, 1001, ACK);
  for (let i = 0; i < count; i++) add(CLIENT, SERVER, 1001 + i, ACK | PSH, Uint8Array.of(97 + (i % 26)));
  add(CLIENT, SERVER, 1001 + count, ACK | FIN);
  return writePcap(ETHERNET, frames);
}

const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe("capture import limits", () => {
  it("imports the first segments up to the segment limit and says how to import the rest", () => {
    const result = importCaptureBytes(keystrokes(25), { maxSegments: 10 });
    const [only] = result.conversations;
    const sent = only!.conversation.events.flatMap((e) => (e.kind === "data" ? [text(e.data)] : []));
    expect(sent.join("")).toBe("abcdefghij");
    expect(only!.summary.complete).toBe(false);
    expect(result.warnings).toEqual([
      "the capture has more than 10 TCP segments carrying data (the first 10 are imported): the import stopped at " +
        "packet 14. Split the file (editcap -c) and import its parts.",
      "16 TCP packets after the import's limit skipped",
    ]);
  });

  it("counts only segments carrying data: a capture at the limit is imported whole", async () => {
    const file = keystrokes(10);
    async function* chunks() {
      yield file.subarray(0, 100);
      yield file.subarray(100);
    }
    const result = await importCaptureStream(chunks(), { copyPayloads: true, maxSegments: 10 });
    expect(result.warnings).toEqual([]);
    expect(result.conversations[0]!.summary).toMatchObject({ bytesToServer: 10, complete: false });
    expect(result.conversations[0]!.conversation.events.map((e) => e.kind)).toContain("fin");
  });

  it("stops between chunks once its signal is aborted, with the signal's reason, reading no further", async () => {
    const file = keystrokes(10);
    const controller = new AbortController();
    let pulled = 0;
    async function* chunks() {
      for (let at = 0; at < file.byteLength; at += 100) {
        pulled += 1;
        if (pulled === 2) controller.abort(new Error("stopped by Ctrl+C"));
        yield file.subarray(at, at + 100);
      }
    }
    await expect(importCaptureStream(chunks(), { signal: controller.signal })).rejects.toThrow("stopped by Ctrl+C");
    expect(pulled).toBe(2);
  });

  it("estimates an import's memory from its events, more per byte for small segments", () => {
    const small = importCaptureBytes(keystrokes(100));
    const estimate = importFootprint(small);
    expect(estimate).toBeGreaterThan(100 * 200); // far more than its 100 payload bytes
    expect(importFootprint(small, keystrokes(100))).toBeGreaterThan(estimate);
  });
});
