import { describe, expect, it } from "vitest";
import { TcpReassembler } from "./tcp-reassembly.ts";
import type { TcpSegment } from "./tcp-segment.ts";

const CLIENT = { host: "10.0.0.1", port: 5000 };
const SERVER = { host: "10.0.0.2", port: 80 };

/** A segment from the client ("c") or the server ("s"); flags are letters: S(YN), A(CK), F(IN), R(ST). */
function seg(from: "c" | "s", seq: number, flags: string, payload = ""): TcpSegment {
  return {
    source: from === "c" ? CLIENT : SERVER,
    destination: from === "c" ? SERVER : CLIENT,
    seq: seq >>> 0,
    ack: 0,
    syn: flags.includes("S"),
    ackFlag: flags.includes("A"),
    fin: flags.includes("F"),
    rst: flags.includes("R"),
    payload: new TextEncoder().encode(payload),
    notCaptured: 0,
  };
}

/** Each conversation the reassembler finds in `segments`, as its data, FINs and RSTs in order ("c:hello", "fin:s"). */
function conversations(segments: TcpSegment[]): string[][] {
  const reassembler = new TcpReassembler();
  segments.forEach((s, i) => reassembler.segmentReceived(s, 1_000_000 + i * 1000));
  return reassembler.finish().map(({ conversation }) =>
    conversation.events.flatMap((e) => {
      if (e.kind === "data") return [`${e.from[0]}:${new TextDecoder().decode(e.data)}`];
      if (e.kind === "fin" || e.kind === "rst") return [`${e.kind}:${e.from[0]}`];
      return [];
    }),
  );
}

/** A new connection on the same tuple: handshake, then a request and its response. */
const reused = (clientIsn: number, serverIsn: number) => [
  seg("c", clientIsn, "S"),
  seg("s", serverIsn, "SA"),
  seg("c", clientIsn + 1, "A"),
  seg("c", clientIsn + 1, "AP", "new-req"),
  seg("s", serverIsn + 1, "AP", "new-resp"),
];

describe("TcpReassembler: a tuple used again", () => {
  it("starts a new conversation when a capture that began mid-stream sees a SYN with a higher sequence number", () => {
    const found = conversations([
      seg("c", 100, "AP", "old-req"),
      seg("s", 900, "AP", "old-resp"),
      ...reused(5000, 7000),
    ]);
    expect(found).toEqual([
      ["c:old-req", "s:old-resp"],
      ["c:new-req", "s:new-resp"],
    ]);
  });

  it("starts a new conversation when the new ISN is below the old sequence space (not a retransmission)", () => {
    const found = conversations([
      seg("c", 900_000, "AP", "old-req"),
      seg("s", 900_000, "AP", "old-resp"),
      ...reused(5000, 7000),
    ]);
    expect(found).toEqual([
      ["c:old-req", "s:old-resp"],
      ["c:new-req", "s:new-resp"],
    ]);
  });

  it("starts a new conversation after a half-close", () => {
    const found = conversations([seg("c", 100, "AP", "old-req"), seg("c", 107, "AF"), ...reused(5000, 7000)]);
    expect(found).toEqual([
      ["c:old-req", "fin:c"],
      ["c:new-req", "s:new-resp"],
    ]);
  });

  it("starts a new conversation when an open connection's client sends a SYN with another ISN", () => {
    const found = conversations([...reused(1, 50), ...reused(3_000_000_000, 60)]);
    expect(found).toEqual([
      ["c:new-req", "s:new-resp"],
      ["c:new-req", "s:new-resp"],
    ]);
  });

  it("keeps one conversation for a retransmitted SYN and for a simultaneous open", () => {
    expect(conversations([seg("c", 1, "S"), seg("c", 1, "S"), seg("s", 50, "SA"), seg("c", 2, "AP", "hi")])).toEqual([
      ["c:hi"],
    ]);
    expect(
      conversations([
        seg("c", 1, "S"),
        seg("s", 50, "S"),
        seg("c", 1, "SA"),
        seg("s", 50, "SA"),
        seg("c", 2, "AP", "hi"),
      ]),
    ).toEqual([["c:hi"]]);
  });
});
