/**
 * The I/O graph: bytes and messages land in the bucket of their time and the side of their direction, one
 * connection can be drawn alone, and paired latencies give their percentiles and histogram.
 */
import { describe, expect, it } from "vitest";
import { TimelineIndex } from "../recording/timeline-index.ts";
import { ioGraph } from "./io-graph.ts";

function timeline(): TimelineIndex {
  const index = new TimelineIndex();
  let seq = 0;
  for (let i = 0; i < 100; i += 1) {
    const t = i * 1000; // 1 ms apart
    const conn = 1 + (i % 2);
    index.add(seq++, t, { kind: "data", t, conn, dir: "out", data: new Uint8Array(10) });
    index.add(seq++, t + 1, { kind: "data", t, conn, dir: "in", data: new Uint8Array(100) });
    index.add(seq++, t + 2, {
      kind: "log",
      t,
      conn,
      level: "info",
      text: "reply",
      fields: {},
      spans: [{ dir: "in", offset: i * 100, length: 100 }],
      pair: { role: "response", request: seq - 3, latency: (i + 1) * 100 },
    });
  }
  return index;
}

describe("ioGraph", () => {
  it("sums bytes and messages per bucket and direction", () => {
    const graph = ioGraph(timeline(), { buckets: 10 });
    expect(graph.from).toBe(0);
    expect(graph.to).toBe(99_003);
    expect(graph.bucketUs).toBe(9901);
    expect(graph.out.bytes.reduce((a, b) => a + b)).toBe(1000);
    expect(graph.in.bytes.reduce((a, b) => a + b)).toBe(10_000);
    expect(graph.in.messages.reduce((a, b) => a + b)).toBe(100);
    expect(graph.out.messages.every((n) => n === 0)).toBe(true);
    expect(graph.in.bytes[0]).toBe(1000); // t 0 .. 9 ms: 10 chunks
  });

  it("draws one connection, over a time range", () => {
    const graph = ioGraph(timeline(), { conn: 2, from: 10_000, to: 20_000, buckets: 2 });
    expect(graph.bucketUs).toBe(5000);
    expect(graph.in.bytes).toEqual([200, 300]); // odd ms: 11, 13 | 15, 17, 19
    expect(graph.latency.count).toBe(5);
  });

  it("gives latency percentiles and a histogram that counts every paired response", () => {
    const { latency } = ioGraph(timeline(), { buckets: 1 });
    expect(latency.count).toBe(100);
    expect(latency.p50).toBe(5000);
    expect(latency.p95).toBe(9500);
    expect(latency.p99).toBe(9900);
    expect(latency.counts.reduce((a, b) => a + b)).toBe(100);
    expect(latency.edgesUs.length).toBe(latency.counts.length + 1);
    expect(latency.edgesUs[0]).toBe(100);
  });

  it("has no percentiles without paired responses", () => {
    const graph = ioGraph(new TimelineIndex(), { buckets: 4 });
    expect(graph.latency).toEqual({ count: 0, p50: null, p95: null, p99: null, edgesUs: [], counts: [] });
    expect(graph.in.bytes).toEqual([0, 0, 0, 0]);
  });
});
