/**
 * Following a session's timeline as it grows. The engine runs in the CLI's process and hands the follower each event
 * the moment it is recorded (Engine.watchRecorded): the follower passes them on once per turn of the event loop, a
 * batch at a time, without reading them back (which decodes every lifecycle and log event again from its record: on a
 * busy decoding proxy, more work for the engine's thread than recording them). What it was not handed — the events
 * recorded before it started, any appended past the watch, whatever came while its queue was full — it reads by
 * range, the way the workbench does, when the engine says the timeline grew (onTimelineGrew, batched) or a handed
 * event does not follow on. Nothing is passed on twice and nothing is skipped; `drain()` catches up at the end.
 */
import type { TimelineEvent } from "../../preload/timeline.ts";
import { EncodedLogEvent } from "../recording/encoded-log-event.ts";
import type { CliService } from "./service.ts";

/** Events read per readTimeline call (the contract's maximum). */
const READ_BATCH = 10_000;

/**
 * How many handed events, and how many of their bytes (a chunk's data, a sandboxed log event's text and fields), may
 * wait for the end of the turn. Past either the follower stops queueing and reads the rest back from the recorder
 * (whose memory is bounded) once it is free. (A sandboxed protocol's log event also keeps the batch it came in
 * alive — at most a turn's worth of the worker's batches.)
 */
export interface QueueBounds {
  events: number;
  bytes: number;
}

export const QUEUE_BOUNDS: QueueBounds = { events: 10_000, bytes: 4 * 1024 * 1024 };

/**
 * Passes one session's timeline, from the start, to `onEvents`, in order, a batch at a time. Created and owned by the
 * command following the session; `grew()` is called by the run's event sink, `stop()` by the run's end.
 */
export class TimelineFollower {
  /** seq of the next event to pass on. */
  private next = 0;
  /** Handed events waiting for the end of the turn: seqs `next`, `next + 1`, ... */
  private queue: TimelineEvent[] = [];
  private queuedBytes = 0;
  /** Events known to be on the timeline: the latest handed or announced. */
  private known = 0;
  /** Handed events are queued (the follower is caught up); else they are left to the reads. */
  private live = false;
  /**
   * Reads queued or under way that have not gone live yet: while there is one, an event not queued will be read by
   * it. Counted down in the same turn a read goes live (not when its promise settles, a few microtasks later: an
   * event missed in between would wait for the next one).
   */
  private reads = 0;
  private flushing: NodeJS.Immediate | null = null;
  private reading: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private stopped = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly service: CliService,
    readonly session: string,
    /** Called with each batch (never empty), in order. */
    private readonly onEvents: (events: readonly TimelineEvent[]) => void,
    private readonly bounds: QueueBounds = QUEUE_BOUNDS,
  ) {
    let unwatch = (): void => {};
    try {
      unwatch = service.engine.watchRecorded(session, this.recorded);
    } catch {
      // A session the engine doesn't know: the first read says so, through drain().
    }
    this.unwatch = unwatch;
  }

  /** The engine says the timeline has `count` events: reads what was not handed (appended past the watch). */
  grew(count: number): void {
    if (this.stopped || count <= this.known) return;
    this.known = count;
    this.missed();
  }

  /** Passes nothing more on (the run is ending: the engine is about to close). */
  stop(): void {
    this.stopped = true;
    this.unwatch();
    if (this.flushing !== null) clearImmediate(this.flushing);
    this.flushing = null;
    this.queue = [];
  }

  /**
   * Passes on everything recorded so far, reading what was not handed; resolves when done. Calls are queued, so
   * events always come out in order. Rejects with the read's error (the session is gone, the capture failed) or the
   * one `onEvents` threw.
   */
  drain(): Promise<void> {
    this.reads += 1;
    this.reading = this.reading.then(() => this.readAll());
    return this.reading.then(() => {
      if (this.failure !== null) throw this.failure;
    });
  }

  /** The engine recorded `e` (its seq is the timeline's latest): queued while the follower is caught up. */
  private readonly recorded = (e: TimelineEvent): void => {
    if (this.stopped || this.failure !== null) return;
    this.known = Math.max(this.known, e.seq + 1);
    const follows = e.seq === this.next + this.queue.length;
    if (this.live && follows && this.queue.length < this.bounds.events && this.queuedBytes < this.bounds.bytes) {
      this.queue.push(e);
      this.queuedBytes += e.kind === "data" ? e.data.byteLength : e instanceof EncodedLogEvent ? e.source.headBytes : 0;
      this.flushing ??= setImmediate(this.flush);
      return;
    }
    this.missed();
  };

  /** An event was not queued: the reads take over from the first one that was not. */
  private missed(): void {
    this.live = false;
    if (this.reads === 0) this.drain().catch(() => {});
  }

  /** Passes the queue on. */
  private readonly flush = (): void => {
    if (this.flushing !== null) clearImmediate(this.flushing);
    this.flushing = null;
    if (this.queue.length === 0) return;
    const events = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.next += events.length;
    this.pass(events);
  };

  private pass(events: readonly TimelineEvent[]): void {
    try {
      this.onEvents(events);
    } catch (err) {
      this.failure ??= err;
      this.live = false;
    }
  }

  /** Passes the queue on, reads from there to the last event known, and is caught up (live) when nothing is left. */
  private async readAll(): Promise<void> {
    this.flush();
    this.live = false;
    try {
      while (this.failure === null && !this.stopped) {
        const { events, total } = await this.service.call("readTimeline", {
          session: this.session,
          from: this.next,
          count: READ_BATCH,
        });
        if (this.stopped) return;
        this.next += events.length;
        if (events.length > 0) this.pass(events);
        this.known = Math.max(this.known, total);
        // Checked in the same turn as going live: an event handed after this follows on from `next`.
        if (events.length === 0 || this.next >= this.known) {
          this.live = this.failure === null;
          return;
        }
      }
    } catch (err) {
      this.failure ??= err;
    } finally {
      this.reads -= 1; // in the same turn as going live (see `reads`)
    }
  }
}
