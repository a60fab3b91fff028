/**
 * A timeline in memory that answers like the `readTimeline` command (clamped ranges, the total, and at most
 * `maxBytes` of payload per read), recording every read: what the cache, index and conversation tests run against.
 * Test support only.
 */
import type { TimelineEvent } from "../../../preload/timeline.ts";
import type { ReadTimeline } from "./timeline-cache.ts";

export class FakeTimeline {
  readonly events: TimelineEvent[] = [];
  readonly reads: { from: number; count: number }[] = [];
  /** Reads answer null (a failure) while set. */
  failing = false;

  constructor(private readonly maxBytes = Infinity) {}

  /** Appends a chunk of `text` on `conn`, going `dir`. */
  data(conn: number, dir: "in" | "out", text: string | Uint8Array): this {
    const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
    const seq = this.events.length;
    this.events.push({ seq, t: seq * 1000, conn, kind: "data", dir, data });
    return this;
  }

  lifecycle(conn: number, event: "connected" | "lost", detail = ""): this {
    const seq = this.events.length;
    this.events.push({ seq, t: seq * 1000, conn, kind: "lifecycle", event, detail });
    return this;
  }

  log(conn: number, text: string, fields: Record<string, unknown> = {}): this {
    const seq = this.events.length;
    this.events.push({ seq, t: seq * 1000, conn, kind: "log", level: "info", text, fields });
    return this;
  }

  get total(): number {
    return this.events.length;
  }

  readonly read: ReadTimeline = async (from, count) => {
    this.reads.push({ from, count });
    await Promise.resolve();
    if (this.failing) return null;
    const out: TimelineEvent[] = [];
    let bytes = 0;
    for (const e of this.events.slice(from, from + count)) {
      const size = e.kind === "data" ? e.data.byteLength : 0;
      if (out.length > 0 && bytes + size > this.maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return { events: out, total: this.events.length };
  };
}

/** Resolves once pending promise callbacks (the fake's reads and what they trigger) have run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
