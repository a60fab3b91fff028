/**
 * A session's timeline in memory, for tests on both sides of the contract: the engine's (a Session appends to it
 * and readConversation reads it back, like the Recorder) and the renderer's (the cache, index and conversation
 * views read it like the `readTimeline` command). Every read is logged, and answers with at most `maxEvents`
 * events and `maxBytes` of payload (at least one event), as the engine's per-read limits do.
 *
 * Test support only: it imports nothing but the timeline's types (preload/timeline.ts) and no Node module, so the
 * renderer's tests can import it too; no workbench code imports it, so it never reaches the renderer's bundle.
 */
import type { Direction, LifecycleEvent, NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";

export interface MemoryTimelineLimits {
  /** Events a read answers at most. */
  maxEvents?: number;
  /** Payload bytes a read answers at most, past its first event. */
  maxBytes?: number;
}

export class MemoryTimeline {
  readonly events: TimelineEvent[] = [];
  /** Every read, as asked (before the limits cut it). */
  readonly reads: { from: number; count: number }[] = [];
  /** The most events one read has answered. */
  largestRead = 0;
  /** `readTimeline` answers null (a failure) while set. */
  failing = false;
  readonly #maxEvents: number;
  readonly #maxBytes: number;

  constructor({ maxEvents = Infinity, maxBytes = Infinity }: MemoryTimelineLimits = {}) {
    this.#maxEvents = maxEvents;
    this.#maxBytes = maxBytes;
  }

  /** Events recorded so far (the timeline's total). */
  get count(): number {
    return this.events.length;
  }

  /** Numbers `event` as the next one and keeps it (what the engine's recorder does). */
  append(event: NewTimelineEvent): TimelineEvent {
    const numbered = { ...event, seq: this.count } as TimelineEvent;
    this.events.push(numbered);
    return numbered;
  }

  /** Appends a chunk of `text` on `conn`, going `dir`, at `seq` milliseconds. */
  data(conn: number, dir: Direction, text: string | Uint8Array): this {
    const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
    this.append({ kind: "data", t: this.count * 1000, conn, dir, data });
    return this;
  }

  /** Appends the lifecycle event `event` of `conn`, at `seq` milliseconds. */
  lifecycle(conn: number, event: LifecycleEvent, detail = ""): this {
    this.append({ kind: "lifecycle", t: this.count * 1000, conn, event, detail });
    return this;
  }

  /** Appends what a protocol logged on `conn`, at `seq` milliseconds. */
  log(conn: number, text: string, fields: Record<string, unknown> = {}): this {
    this.append({ kind: "log", t: this.count * 1000, conn, level: "info", text, fields });
    return this;
  }

  /** The lifecycle events recorded, in order: of connection `conn`, or of every connection and the session. */
  lifecycleEvents(conn?: number): LifecycleEvent[] {
    return this.events.flatMap((e) => (e.kind === "lifecycle" && (conn ?? e.conn) === e.conn ? [e.event] : []));
  }

  /** Every byte that went `dir` on `conn`, decoded as UTF-8. */
  bytes(conn: number, dir: Direction): string {
    const chunks = this.events.flatMap((e) => (e.kind === "data" && e.conn === conn && e.dir === dir ? [e.data] : []));
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.byteLength;
    }
    return new TextDecoder().decode(all);
  }

  /** Events `from` .. `from + count - 1`, clamped to the timeline and cut by the limits: the Recorder's `read`. */
  async read(from: number, count: number): Promise<TimelineEvent[]> {
    this.reads.push({ from, count });
    await Promise.resolve();
    const out: TimelineEvent[] = [];
    let bytes = 0;
    for (const e of this.events.slice(from, from + Math.min(count, this.#maxEvents))) {
      const size = e.kind === "data" ? e.data.byteLength : 0;
      if (out.length > 0 && bytes + size > this.#maxBytes) break;
      bytes += size;
      out.push(e);
    }
    this.largestRead = Math.max(this.largestRead, out.length);
    return out;
  }

  /** The same read, answered as the `readTimeline` command is (with the total; null while `failing`). */
  readonly readTimeline = async (
    from: number,
    count: number,
  ): Promise<{ events: TimelineEvent[]; total: number } | null> => {
    const events = await this.read(from, count);
    return this.failing ? null : { events, total: this.count };
  };
}

/** Resolves once pending promise callbacks (the timeline's reads and what they trigger) have run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
