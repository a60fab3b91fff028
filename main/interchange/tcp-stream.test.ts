import { describe, expect, it } from "vitest";
import { TcpStream, type StreamDelivery } from "./tcp-stream.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A stream with ISN `isn`, and what it delivered, rendered. */
function stream(isn: number): { s: TcpStream; out: string[] } {
  const out: string[] = [];
  const s = new TcpStream((d: StreamDelivery) => {
    if (d.kind === "data") out.push(`${d.t}:${new TextDecoder().decode(d.data)}`);
    else if (d.kind === "gap") out.push(`${d.t}:gap ${d.size}@${d.at}`);
    else out.push(`${d.t}:fin`);
  });
  s.synReceived(isn);
  return { s, out };
}

describe("TcpStream", () => {
  it("holds early segments and delivers them when the bytes before them arrive, at that time", () => {
    const { s, out } = stream(100);
    s.segmentReceived(107, text("world"), true, 1);
    s.segmentReceived(101, text("hello "), false, 2);
    expect(out).toEqual(["2:hello ", "2:world", "2:fin"]);
    expect(s.tally.outOfOrderSegments).toBe(1);
  });

  it("drops retransmissions and keeps the first copy of overlapping bytes", () => {
    const { s, out } = stream(0);
    s.segmentReceived(1, text("abc"), false, 1);
    s.segmentReceived(1, text("abc"), false, 2); // retransmitted
    s.segmentReceived(6, text("FGH"), false, 3); // early
    s.segmentReceived(3, text("cdefgXY"), false, 4); // overlaps both sides: only "de" and "Y" are new
    expect(out.join("")).toBe("1:abc4:de4:FGH4:Y");
    expect(s.tally).toMatchObject({ retransmittedSegments: 1, retransmittedBytes: 3, overlapBytes: 4 });
  });

  it("follows sequence numbers across 2^32", () => {
    const { s, out } = stream(0xfffffffd);
    s.segmentReceived(0xfffffffe, text("abcd"), false, 1); // bytes at ...fe, ...ff, 0, 1
    s.segmentReceived(2, text("ef"), false, 2);
    s.segmentReceived(0xffffffff, text("bc"), false, 3); // old bytes, from before the wrap
    expect(out).toEqual(["1:abcd", "2:ef"]);
    expect(s.tally.retransmittedSegments).toBe(1);
  });

  it("reports a hole the capture never fills, with its size and place, and goes on", () => {
    const { s, out } = stream(0);
    s.segmentReceived(1, text("ab"), false, 1);
    s.segmentReceived(10, text("xyz"), true, 2);
    s.flush();
    expect(out).toEqual(["1:ab", "2:gap 7@2", "2:xyz", "2:fin"]);
    expect(s.tally.gaps).toEqual([{ at: 2, size: 7 }]);
  });

  it("starts mid-stream without a SYN, and says so", () => {
    const out: string[] = [];
    const s = new TcpStream((d) => out.push(d.kind));
    s.segmentReceived(5000, text("late"), false, 1);
    expect(out).toEqual(["data"]);
    expect(s.tally.midStream).toBe(true);
  });
});
