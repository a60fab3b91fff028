/**
 * The `ioGraph` command (Wireshark's I/O Graphs): bytes and decoded messages per time bucket, each direction apart,
 * and the distribution of paired responses' latency, over a session or one connection — from the index's columns
 * alone (timeline-index.ts), never from the capture file.
 */
import type { TimelineIndex } from "../recording/timeline-index.ts";
import { EVENT_KIND } from "../recording/timeline-index.ts";

/** What to draw. */
export interface IoGraphQuery {
  conn?: number;
  /** Timeline µs (the events' `t`); default the first event's. */
  from?: number;
  /** Timeline µs, exclusive; default just past the last event's. */
  to?: number;
  buckets: number;
}

/** Bytes and messages per bucket, one direction. */
export interface IoSeries {
  bytes: number[];
  messages: number[];
}

/** The latency of paired responses (µs): percentiles and a histogram (counts[i] between edgesUs[i] and [i + 1]). */
export interface LatencyDistribution {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  edgesUs: number[];
  counts: number[];
}

export interface IoGraph {
  from: number;
  to: number;
  bucketUs: number;
  in: IoSeries;
  out: IoSeries;
  latency: LatencyDistribution;
}

/** Histogram bins of the latency distribution (log-spaced: latencies span orders of magnitude). */
const LATENCY_BINS = 24;

/** The I/O graph of `index`'s timeline for `query`. */
export function ioGraph(index: TimelineIndex, query: IoGraphQuery): IoGraph {
  const last = index.count === 0 ? 0 : index.tOf(index.count - 1);
  const from = query.from ?? index.firstT ?? 0;
  const to = Math.max(from + 1, query.to ?? last + 1);
  const bucketUs = Math.max(1, Math.ceil((to - from) / query.buckets));
  const series = (): IoSeries => ({
    bytes: new Array<number>(query.buckets).fill(0),
    messages: new Array<number>(query.buckets).fill(0),
  });
  const graph = { from, to, bucketUs, in: series(), out: series() };
  const latencies: number[] = [];
  for (let seq = index.seqAtT(from); seq < index.count; seq += 1) {
    const t = index.tOf(seq);
    if (t >= to) break;
    if (query.conn !== undefined && index.connOf(seq) !== query.conn) continue;
    const kind = index.kindOf(seq);
    const dir = index.dirOf(seq);
    if (dir === null || (kind !== EVENT_KIND.data && kind !== EVENT_KIND.message)) continue;
    const bucket = Math.min(query.buckets - 1, Math.floor((t - from) / bucketUs));
    const side = graph[dir];
    if (kind === EVENT_KIND.data) {
      side.bytes[bucket]! += index.sizeOf(seq);
    } else {
      side.messages[bucket]! += 1;
      const latency = index.latencyOf(seq);
      if (!Number.isNaN(latency)) latencies.push(latency);
    }
  }
  return { ...graph, latency: distribution(latencies) };
}

/** Percentiles (nearest rank) and a log-spaced histogram of `latencies`. */
function distribution(latencies: number[]): LatencyDistribution {
  const count = latencies.length;
  if (count === 0) return { count, p50: null, p95: null, p99: null, edgesUs: [], counts: [] };
  const sorted = Float64Array.from(latencies).sort();
  const rank = (q: number): number => sorted[Math.max(0, Math.ceil(q * count) - 1)]!;
  const lo = Math.max(1, sorted[0]!);
  const hi = Math.max(lo + 1, sorted[count - 1]! + 1);
  const ratio = Math.log(hi / lo) / LATENCY_BINS;
  const edgesUs = Array.from({ length: LATENCY_BINS + 1 }, (_, i) =>
    i === LATENCY_BINS ? hi : lo * Math.exp(ratio * i),
  );
  const counts = new Array<number>(LATENCY_BINS).fill(0);
  for (const latency of sorted) {
    const bin = latency <= lo ? 0 : Math.floor(Math.log(latency / lo) / ratio);
    counts[Math.min(LATENCY_BINS - 1, Math.max(0, bin))]! += 1;
  }
  return { count, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), edgesUs, counts };
}
