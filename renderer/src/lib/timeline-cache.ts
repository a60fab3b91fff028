/**
 * The traffic view's rows, fetched by range: a small LRU of pages of a session's timeline, so that the renderer
 * holds only what it shows (and a little around it), whatever the timeline's length.
 *
 * The view says which events it wants (`want`: the visible rows and some overscan), the cache fetches the missing
 * ones with `readTimeline` — whole pages when the rows are contiguous, coalesced runs when they are scattered (a
 * filtered view) — at most MAX_IN_FLIGHT requests at a time, always for what is wanted *now* (a fast scroll doesn't
 * queue the pages it flew past). Pages are evicted oldest-used first beyond MAX_PAGES or MAX_BYTES of payload,
 * never one holding a wanted event. Events never change once recorded, so nothing is ever refetched.
 *
 * Plain TypeScript (no runes): the owner (Timeline.svelte) turns `onLoaded` into a reactive version number and
 * calls `dispose()` when it goes.
 */
import type { TimelineEvent } from "../../../preload/timeline.ts";

/**
 * Reads `count` events from `from` (the `readTimeline` command); null when it failed (the reason is shown elsewhere).
 * With `preview`, chunks come cut to their first bytes, their whole size in DataEvent.size: for rows only, never for
 * what shows, copies or decodes a chunk's bytes.
 */
export type ReadTimeline = (
  from: number,
  count: number,
  preview?: number,
) => Promise<{ events: TimelineEvent[]; total: number } | null>;

/** Events per page: what one request fetches around a visible row. */
export const PAGE_SIZE = 200;
/** Pages kept (a screen is ~50 rows, so this is a few dozen screens of contiguous rows). */
export const MAX_PAGES = 24;
/** Payload kept, roughly (chunks can be big: 24 pages of 64 KiB chunks would be 300 MiB). */
export const MAX_BYTES = 16 * 1024 * 1024;
/** Requests at once: enough to fill a screen of scattered rows quickly, few enough not to flood the engine. */
export const MAX_IN_FLIGHT = 4;
/** In a scattered (filtered) fetch, wanted events at most this far apart share one request. */
const SPARSE_GAP = 16;
/** A scattered run reads at most this many events. */
const SPARSE_MAX_RUN = 400;

interface Page {
  events: (TimelineEvent | undefined)[];
  bytes: number;
}

export interface TimelineCacheOptions {
  pageSize?: number;
  maxPages?: number;
  maxBytes?: number;
  maxInFlight?: number;
}

/**
 * Roughly what an event costs in memory (a chunk read as a preview by the bytes it holds), to bound the cache by
 * bytes as well as by pages.
 */
export function eventBytes(e: TimelineEvent): number {
  switch (e.kind) {
    case "data":
      return 64 + e.data.byteLength;
    case "lifecycle":
      return 64 + 2 * e.detail.length;
    case "log":
      return 128 + 2 * e.text.length;
  }
}

export class TimelineCache {
  /** Map order is the LRU order: the first page is the least recently wanted. */
  private readonly pages = new Map<number, Page>();
  private bytes = 0;
  private wanted: number[] = [];
  private wantedPages = new Set<number>();
  private dense = true;
  private readonly inFlight = new Set<number>();
  private running = 0;
  /** Set when a read failed or came back empty: no retry until the next `want` (no loop hammering the engine). */
  private stalled = false;
  private disposed = false;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  /** The largest timeline total a read reported. */
  total = 0;

  /**
   * `onLoaded` is called after each read that stored events (the owner re-reads its visible rows with `get`).
   */
  constructor(
    private readonly read: ReadTimeline,
    private readonly onLoaded: () => void,
    options: TimelineCacheOptions = {},
  ) {
    this.pageSize = options.pageSize ?? PAGE_SIZE;
    this.maxPages = options.maxPages ?? MAX_PAGES;
    this.maxBytes = options.maxBytes ?? MAX_BYTES;
    this.maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
  }

  /** The event `seq` if it is cached. */
  get(seq: number): TimelineEvent | undefined {
    return this.pages.get(Math.floor(seq / this.pageSize))?.events[seq % this.pageSize];
  }

  /** How many pages and payload bytes are held now (for tests and the heap figures). */
  get size(): { pages: number; bytes: number } {
    return { pages: this.pages.size, bytes: this.bytes };
  }

  /**
   * Replaces what the view wants: `seqs` ascending. `dense` when they are contiguous rows of the timeline (whole
   * pages are fetched around them); otherwise only runs of them are. Fetches what is missing, in order.
   */
  want(seqs: number[], dense: boolean): void {
    if (this.disposed) return;
    this.wanted = seqs;
    this.dense = dense;
    this.stalled = false;
    this.wantedPages = new Set(seqs.map((s) => Math.floor(s / this.pageSize)));
    for (const p of this.wantedPages) {
      const page = this.pages.get(p);
      if (page) {
        this.pages.delete(p);
        this.pages.set(p, page);
      }
    }
    this.pump();
  }

  /** Stops fetching and forgets everything; reads still under way are ignored when they answer. */
  dispose(): void {
    this.disposed = true;
    this.pages.clear();
    this.bytes = 0;
    this.wanted = [];
  }

  private pump(): void {
    while (!this.stalled && this.running < this.maxInFlight) {
      const request = this.nextRequest();
      if (!request) return;
      this.fetch(request.from, request.count);
    }
  }

  /** The first wanted event neither cached nor being fetched, widened to its page or to a run of wanted ones. */
  private nextRequest(): { from: number; count: number } | null {
    const missing = (s: number) => !this.inFlight.has(s) && this.get(s) === undefined;
    const i = this.wanted.findIndex(missing);
    if (i === -1) return null;
    const from = this.wanted[i]!;
    let end: number;
    if (this.dense) {
      // The rest of its page (a tail page fetched while the timeline was shorter is completed, not refetched),
      // up to anything already on its way.
      const pageEnd = (Math.floor(from / this.pageSize) + 1) * this.pageSize;
      end = from + 1;
      while (end < pageEnd && !this.inFlight.has(end)) end += 1;
    } else {
      end = from + 1;
      for (let j = i + 1; j < this.wanted.length; j++) {
        const s = this.wanted[j]!;
        if (s - (end - 1) > SPARSE_GAP || s + 1 - from > SPARSE_MAX_RUN) break;
        if (missing(s)) end = s + 1;
      }
    }
    for (let s = from; s < end; s++) this.inFlight.add(s);
    return { from, count: end - from };
  }

  private fetch(from: number, count: number): void {
    this.running += 1;
    this.read(from, count)
      .then((result) => {
        if (this.disposed) return;
        if (!result || result.events.length === 0) {
          // Past the end (the view's total ran ahead of the engine's? never) or a failure: wait for the next want.
          if (!result || from < result.total) this.stalled = true;
          if (result) this.total = Math.max(this.total, result.total);
          return;
        }
        this.total = Math.max(this.total, result.total);
        for (const e of result.events) this.store(e);
        this.evict();
        this.onLoaded();
      })
      .catch(() => {
        this.stalled = true;
      })
      .finally(() => {
        for (let s = from; s < from + count; s++) this.inFlight.delete(s);
        this.running -= 1;
        if (!this.disposed) this.pump();
      });
  }

  private store(e: TimelineEvent): void {
    const p = Math.floor(e.seq / this.pageSize);
    let page = this.pages.get(p);
    if (!page) {
      page = { events: new Array<TimelineEvent | undefined>(this.pageSize), bytes: 0 };
      this.pages.set(p, page);
    }
    const slot = e.seq % this.pageSize;
    if (page.events[slot]) return;
    page.events[slot] = e;
    const size = eventBytes(e);
    page.bytes += size;
    this.bytes += size;
  }

  private evict(): void {
    for (const [p, page] of this.pages) {
      if (this.pages.size <= this.maxPages && this.bytes <= this.maxBytes) return;
      if (this.wantedPages.has(p)) continue;
      this.pages.delete(p);
      this.bytes -= page.bytes;
    }
  }
}
