/**
 * The rows of a filtered traffic view: the seqs of the events matching a filter expression, found by the engine
 * (`findTimeline`) over the whole capture, from its first event on, page by page, keeping only the numbers (4 bytes
 * a match), never the events.
 *
 * Each `findTimeline` call does bounded work and says where to go on (`next`), so the index calls again until it
 * has looked at the whole timeline, then again whenever the timeline grows (`grow`). The owner shows how far it got
 * (`scanned` of `total`) and can stop it (`cancel`: no further call is made) and go on later (`resume`). A wrong
 * expression (the engine's "bad-filter") stops it with the engine's message in `error`.
 *
 * Plain TypeScript (no runes); the owner calls `dispose()` when the filter changes or the view goes.
 */
import type { Result } from "../../../preload/contract.ts";

/** One `findTimeline` call's answer. */
export interface FoundPage {
  seqs: number[];
  next: number;
  scanned: number;
  total: number;
}

/** The query of a filtered view: an expression, and the connection shown (none: the whole session). */
export interface FindQuery {
  filter: string;
  conn: number | null;
}

/** Calls `findTimeline` from `from` (forward, or `backward`) for at most `limit` matches. */
export type FindTimeline = (
  query: FindQuery,
  from: number,
  limit: number,
  backward?: boolean,
) => Promise<Result<FoundPage>>;

/** Matches asked for per call (the contract allows 10,000). */
export const FIND_LIMIT = 5000;

/** What changed, for the owner to redraw. */
export type IndexListener = () => void;

export class FoundIndex {
  private seqs = new Int32Array(1024);
  private count = 0;
  /** Events looked at: [0, scanned). */
  scanned = 0;
  /** The timeline's length, as the engine last said (or the owner, through `grow`). */
  total: number;
  /** Whether the user stopped the scan. */
  cancelled = false;
  /** Why the scan stopped on a failure: the engine's message ("at column 9: expected a value after '=='"). */
  error: string | null = null;
  /** Whether that failure was a wrong expression (the engine's "bad-filter"). */
  badFilter = false;
  private running = false;
  private disposed = false;

  constructor(
    private readonly find: FindTimeline,
    readonly query: FindQuery,
    private readonly onChange: IndexListener,
    total: number,
    private readonly limit = FIND_LIMIT,
  ) {
    this.total = total;
    void this.pump();
  }

  /** Matching rows found so far. */
  get length(): number {
    return this.count;
  }

  /** Whether a call is under way or due: the scan has not reached the end and was not stopped. */
  get searching(): boolean {
    return !this.cancelled && this.error === null && this.scanned < this.total;
  }

  /** The seq of row `i`. */
  at(i: number): number {
    return this.seqs[i]!;
  }

  /** The row of `seq`, or -1 if it is not a match (or not looked at yet). */
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

  /** The timeline grew to `total`: look at the new events (unless stopped). */
  grow(total: number): void {
    if (total <= this.total) return;
    this.total = total;
    this.onChange();
    void this.pump();
  }

  /** Stops the scan after the call under way; what was found stays. */
  cancel(): void {
    this.cancelled = true;
    this.onChange();
  }

  /** Goes on from where the scan stopped (after `cancel`, or a failure other than a wrong expression). */
  resume(): void {
    if (this.badFilter) return;
    this.cancelled = false;
    this.error = null;
    this.onChange();
    void this.pump();
  }

  dispose(): void {
    this.disposed = true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.disposed && this.searching) {
        const result = await this.find(this.query, this.scanned, this.limit);
        if (this.disposed) return;
        if (!result.ok) {
          this.error = result.error.message;
          this.badFilter = result.error.code === "bad-filter";
          this.onChange();
          return;
        }
        const page = result.value;
        for (const seq of page.seqs) if (this.count === 0 || seq > this.seqs[this.count - 1]!) this.push(seq);
        if (page.next === -1) {
          // Everything there was looked at: the engine's total is the timeline's length, and where `grow` goes on.
          this.scanned = this.total = page.total;
        } else {
          const moved = page.next > this.scanned;
          this.scanned = Math.max(this.scanned, page.next);
          this.total = Math.max(this.total, page.total);
          if (!moved) this.error = "the engine's search made no progress";
        }
        this.onChange();
      }
    } finally {
      this.running = false;
    }
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
