/**
 * A session's events as they are recorded, handed to whoever watches them in-process (the CLI printing a proxy's
 * timeline), so that it needs no read back from the recorder: reading back decodes each lifecycle and log event again
 * from its record, which on a busy decoding proxy cost the engine's thread more than recording them.
 */
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import type { NumberingTimeline } from "./message-pairing.ts";

/**
 * Called with each event the moment it is recorded, synchronously, in seq order. The event is the recorder's own
 * (a sandboxed protocol's log event is an EncodedLogEvent: read its text and fields through their getters, and make
 * it `plain()` before it crosses a thread or IPC). A listener that throws is dropped: recording goes on.
 */
export type RecordedListener = (e: TimelineEvent) => void;

/**
 * Wraps the recorder a session appends to (the registry puts it under pairing). An event appended elsewhere, straight
 * to the recorder, is not seen here: a watcher that needs every event checks that seqs follow on (`count`, the
 * onTimelineGrew notices) and reads back what it missed.
 */
export class RecordedEvents implements NumberingTimeline {
  readonly #listeners = new Set<RecordedListener>();

  constructor(private readonly inner: NumberingTimeline) {}

  get count(): number {
    return this.inner.count;
  }

  /** Appends `event` and hands the recorded event (numbered; its bytes shared, read-only) to every listener. */
  append(event: NewTimelineEvent): TimelineEvent {
    const recorded = this.inner.append(event);
    for (const listener of this.#listeners) {
      try {
        listener(recorded);
      } catch {
        // Its watcher reads back what it misses (it checks that seqs follow on); the session must not stop recording.
        this.#listeners.delete(listener);
      }
    }
    return recorded;
  }

  /** Hands `listener` every event recorded from now on, until the returned function is called. */
  watch(listener: RecordedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
