/**
 * Following a session's timeline as it grows, the way the workbench does: the engine says a timeline grew
 * (onTimelineGrew, batched), and the follower reads the new events by range and hands them on in order. Nothing
 * is read twice and nothing is skipped, however the notices are batched; `drain()` catches up at the end.
 */
import type { TimelineEvent } from "../../preload/timeline.ts";
import type { CliService } from "./service.ts";

/** Events read per readTimeline call (the contract's maximum). */
const READ_BATCH = 10_000;

/**
 * Reads one session's timeline from the start and passes every event to `onEvents`, in order, a batch per read. Created and owned by
 * the command following the session; `grew()` is called by the run's event sink.
 */
export class TimelineFollower {
  /** The next event to read. */
  private next = 0;
  private reading: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly service: CliService,
    readonly session: string,
    /** Called with each batch read (never empty), in order. */
    private readonly onEvents: (events: readonly TimelineEvent[]) => void,
  ) {}

  private stopped = false;

  /** The engine said the timeline grew: read on (queued after any read in progress). A failure waits for drain(). */
  grew(): void {
    if (!this.stopped) this.drain().catch(() => {});
  }

  /** Reads nothing more (the run is ending: the engine is about to close). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Reads everything recorded so far and passes it on; resolves when done. Calls are queued, so events always come
   * out in order. Rejects with the read's error (the session is gone, the capture failed).
   */
  drain(): Promise<void> {
    this.reading = this.reading.then(() => this.readAll());
    return this.reading.then(() => {
      if (this.failure !== null) throw this.failure;
    });
  }

  private async readAll(): Promise<void> {
    if (this.failure !== null || this.stopped) return;
    try {
      while (true) {
        const { events, total } = await this.service.call("readTimeline", {
          session: this.session,
          from: this.next,
          count: READ_BATCH,
        });
        if (events.length > 0) this.onEvents(events);
        this.next += events.length;
        if (events.length === 0 || this.next >= total) return;
      }
    } catch (err) {
      this.failure = err;
    }
  }
}
