/**
 * The `findTimeline` command: the seqs of a timeline's events that match a filter, a page at a time, over the
 * whole timeline however long. Each call does bounded work: it walks the index (timeline-index.ts) a step at a time,
 * reads from the capture only the events the columns can't decide (filter-evaluator.ts; Recorder.scan, no copy), and returns at `limit`
 * matches, after about FIND_TIME_MS, or once about FIND_READ_BYTES were read, whichever comes first. The caller
 * goes on from `next` (and shows progress from it), or stops by not calling again.
 */
import type { FilterExpr } from "../../preload/filter-language.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { READ_MAX_BYTES, type Recorder } from "../recording/recorder.ts";
import { verdict } from "./filter-evaluator.ts";

/** A call returns after about this long... */
export const FIND_TIME_MS = 100;
/** ... or once it read about this many bytes of events from the capture. */
export const FIND_READ_BYTES = 8 * 1024 * 1024;
/** Events decided from the columns at a time. */
const STEP = 4096;
/** Undecided events this close together are read in one range rather than two. */
const READ_GAP = 64;
/** Events read at a time, at most: the budget is checked between reads. */
const READ_SLICE = 2048;

/** What to find. */
export interface FindQuery {
  filter: FilterExpr;
  /** Only this connection's events. */
  conn?: number;
  /** The seq to start at, inclusive. */
  from: number;
  /** Towards the start of the timeline (seqs descending). */
  backward?: boolean;
  /** Matches wanted. */
  limit: number;
}

/** A page of matches. */
export interface FindPage {
  /** Ascending when forward, descending when backward. */
  seqs: number[];
  /** The seq to continue from; -1 when the whole timeline was looked at in that direction. */
  next: number;
  /** Events looked at in this call. */
  scanned: number;
  /** The timeline's length now. */
  total: number;
}

/** One page of `query`'s matches on `recorder`'s timeline. */
export async function findTimeline(recorder: Recorder, query: FindQuery): Promise<FindPage> {
  const index = recorder.index;
  const total = index.count;
  const backward = query.backward === true;
  const started = performance.now();
  const seqs: number[] = [];
  let scanned = 0;
  let bytesRead = 0;
  let pos = backward ? Math.min(query.from, total - 1) : query.from;
  const done = (): FindPage => ({ seqs, next: pos < 0 || pos >= total ? -1 : pos, scanned, total });
  while (pos >= 0 && pos < total) {
    const order = stepFrom(pos, backward, total);
    const undecided: number[] = [];
    const verdicts = new Int8Array(order.length);
    for (let i = 0; i < order.length; i += 1) {
      const seq = order[i]!;
      const v =
        query.conn !== undefined && index.connOf(seq) !== query.conn ? false : verdict(query.filter, index, seq);
      verdicts[i] = v === null ? -1 : v ? 1 : 0;
      if (v === null) undecided.push(seq);
    }
    const read = await readVerdicts(recorder, query.filter, undecided, FIND_READ_BYTES - bytesRead, started);
    bytesRead += read.bytes;
    for (let i = 0; i < order.length; i += 1) {
      const seq = order[i]!;
      let v = verdicts[i] === 1;
      if (verdicts[i] === -1) {
        const decided = read.verdicts.get(seq);
        if (decided === undefined) {
          pos = seq; // not read within the budget: the next call starts here
          return done();
        }
        v = decided;
      }
      scanned += 1;
      pos = backward ? seq - 1 : seq + 1;
      if (v) {
        seqs.push(seq);
        if (seqs.length >= query.limit) return done();
      }
    }
    if (performance.now() - started >= FIND_TIME_MS || bytesRead >= FIND_READ_BYTES) break;
  }
  return done();
}

/** The seqs of the step starting at `pos`, in the order they are looked at. */
function stepFrom(pos: number, backward: boolean, total: number): number[] {
  const n = backward ? Math.min(STEP, pos + 1) : Math.min(STEP, total - pos);
  return Array.from({ length: n }, (_, i) => (backward ? pos - i : pos + i));
}

/**
 * The verdicts of `filter` on the events `seqs` (in the order they are looked at), read from the capture in ranges
 * of at most READ_SLICE events, in that order, until `budget` bytes were read or FIND_TIME_MS passed since
 * `started`; at least the first range. Events not read are absent, and everything before them in that order present.
 */
async function readVerdicts(
  recorder: Recorder,
  filter: FilterExpr,
  seqs: number[],
  budget: number,
  started: number,
): Promise<{ verdicts: Map<number, boolean>; bytes: number }> {
  const verdicts = new Map<number, boolean>();
  const wanted = new Set(seqs);
  let bytes = 0;
  const visit = (e: TimelineEvent): void => {
    bytes += weightOf(e);
    if (wanted.has(e.seq)) verdicts.set(e.seq, verdict(filter, recorder.index, e.seq, e) === true);
  };
  const spent = (): boolean => bytes >= budget || performance.now() - started >= FIND_TIME_MS;
  for (let i = 0; i < seqs.length;) {
    // A run of seqs close together, [lo, hi], read in slices in the order they are looked at.
    let j = i;
    while (j + 1 < seqs.length && Math.abs(seqs[j + 1]! - seqs[j]!) <= READ_GAP) j += 1;
    const backward = seqs[j]! < seqs[i]!;
    const lo = Math.min(seqs[i]!, seqs[j]!);
    const hi = Math.max(seqs[i]!, seqs[j]!);
    for (let k = 0; k * READ_SLICE <= hi - lo; k += 1) {
      const a = backward ? Math.max(lo, hi - (k + 1) * READ_SLICE + 1) : lo + k * READ_SLICE;
      const b = backward ? hi - k * READ_SLICE : Math.min(hi, a + READ_SLICE - 1);
      for (let from = a; from <= b;) {
        const visited = await recorder.scan(from, b - from + 1, READ_MAX_BYTES, visit);
        if (visited === 0) return { verdicts, bytes };
        from += visited;
      }
      if (spent()) return { verdicts, bytes };
    }
    i = j + 1;
  }
  return { verdicts, bytes };
}

/** About what an event weighs, read. */
function weightOf(e: TimelineEvent): number {
  return e.kind === "data" ? e.data.byteLength + 32 : 128;
}
