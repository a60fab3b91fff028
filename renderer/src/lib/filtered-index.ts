/**
 * The rows of a filtered traffic view: the seqs of the events that match, found by reading the timeline page by
 * page and keeping only the numbers (4 bytes a match), never the events.
 *
 * The contract has no filtered read, so the index covers a window of the timeline: the last SCAN_WINDOW events
 * when the view opens, everything that arrives after, and SCAN_WINDOW more each time the user asks for older
 * events (`older`). What it has not scanned it says (`lo` > 0), so the view can say "matches in the last N events"
 * rather than pretend to be complete. A filtered read in the engine, which already holds the timeline, would lift
 * this limit (proposed: a `findTimeline` command returning the seqs that match).
 *
 * Plain TypeScript (no runes); the owner calls `dispose()` when the filter changes or the view goes.
 */
import type { TimelineEvent } from "../../../preload/timeline.ts";
import type { ReadTimeline } from "./timeline-cache.ts";
import { matches, type TimelineFilter } from "./timeline-filter.ts";

/** Events scanned when a filter is applied, and again each time older events are asked for. */
export const SCAN_WINDOW = 100_000;
/** Events per read while scanning (the engine caps a read's payload at 32 MiB, so big chunks come in fewer). */
export const SCAN_PAGE = 2000;

/** What changed, for the owner to keep its scroll anchor: `prepended` rows were added before row 0. */
export interface IndexChange {
  prepended: number;
}

export class FilteredIndex {
  private seqs = new Int32Array(1024);
  private count = 0;
  /** Scanned: [lo, hi). */
  lo: number;
  hi: number;
  private targetLo: number;
  private targetHi: number;
  /** Older matches found by `older()`, prepended in one go when its range is done. */
  private older_: number[] = [];
  private olderCursor = -1;
  private running = false;
  private disposed = false;
  /** The last read's failure, if the scan stopped on one. */
  error: string | null = null;

  constructor(
    private readonly read: ReadTimeline,
    private readonly filter: TimelineFilter,
    private readonly onChange: (change: IndexChange) => void,
    total: number,
    private readonly window = SCAN_WINDOW,
    private readonly page = SCAN_PAGE,
  ) {
    this.lo = this.hi = Math.max(0, total - window);
    this.targetLo = this.lo;
    this.targetHi = total;
    void this.pump();
  }

  /** Matching rows found so far. */
  get length(): number {
    return this.count;
  }

  /** The seq of row `i`. */
  at(i: number): number {
    return this.seqs[i]!;
  }

  /** The row of `seq`, or -1 if it is not a match (or not scanned). */
  indexOf(seq: number): number {
    const i = this.lowerBound(seq);
    return i < this.count && this.seqs[i] === seq ? i : -1;
  }

  /** The first row whose seq is >= `seq`. */
  lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Events still to scan before the index reaches what was asked (for a progress line). */
  get pending(): number {
    return (
      this.targetHi - this.hi + (this.olderCursor === -1 ? this.lo - this.targetLo : this.olderCursor - this.targetLo)
    );
  }

  /** The timeline grew to `total`: scan the new events. */
  grow(total: number): void {
    if (total <= this.targetHi) return;
    this.targetHi = total;
    void this.pump();
  }

  /** Scan SCAN_WINDOW more events before what was scanned (once the previous `older` is done). */
  older(): void {
    if (this.targetLo === 0 || this.lo !== this.targetLo) return;
    this.targetLo = Math.max(0, this.targetLo - this.window);
    this.onChange({ prepended: 0 });
    void this.pump();
  }

  dispose(): void {
    this.disposed = true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.disposed) {
        if (this.hi < this.targetHi) {
          const events = await this.readSome(this.hi, Math.min(this.page, this.targetHi - this.hi));
          if (!events) return;
          for (const e of events) if (matches(e, this.filter)) this.push(e.seq);
          this.hi = events[events.length - 1]!.seq + 1;
          this.onChange({ prepended: 0 });
        } else if (this.lo > this.targetLo) {
          if (!(await this.scanOlder())) return;
        } else {
          return;
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One page of the older range; when the range is done, its matches go before row 0. False when the read failed
   * (the scan stops until the next `grow` or `older`).
   */
  private async scanOlder(): Promise<boolean> {
    if (this.olderCursor === -1) this.olderCursor = this.targetLo;
    const events = await this.readSome(this.olderCursor, Math.min(this.page, this.lo - this.olderCursor));
    if (!events) return false;
    for (const e of events) if (e.seq < this.lo && matches(e, this.filter)) this.older_.push(e.seq);
    this.olderCursor = events[events.length - 1]!.seq + 1;
    if (this.olderCursor < this.lo) {
      this.onChange({ prepended: 0 });
      return true;
    }
    const found = this.older_;
    const next = new Int32Array(Math.max(this.seqs.length, this.count + found.length));
    next.set(found, 0);
    next.set(this.seqs.subarray(0, this.count), found.length);
    this.seqs = next;
    this.count += found.length;
    this.lo = this.targetLo;
    this.older_ = [];
    this.olderCursor = -1;
    this.onChange({ prepended: found.length });
    return true;
  }

  /** A read that made progress, or null (stopping the scan) when it failed or came back empty. */
  private async readSome(from: number, count: number): Promise<TimelineEvent[] | null> {
    const result = await this.read(from, count);
    if (this.disposed) return null;
    if (!result || result.events.length === 0) {
      this.error = result ? null : "the timeline could not be read";
      // Nothing there (the total we were told ran ahead of the engine's): stop, and let `grow` resume.
      if (result) this.targetHi = Math.min(this.targetHi, result.total);
      this.onChange({ prepended: 0 });
      return null;
    }
    this.error = null;
    return result.events;
  }

  private push(seq: number): void {
    if (this.count === this.seqs.length) {
      const next = new Int32Array(this.seqs.length * 2);
      next.set(this.seqs);
      this.seqs = next;
    }
    this.seqs[this.count++] = seq;
  }
}
