/**
 * Decoded messages of a recorded timeline, and the bytes their spans stand for: a connection's stream in one
 * direction (and, for a process, through one fd) is its data events' bytes end to end, and a span is a slice of it.
 */
import type { LogTimelineEvent, Span, TimelineEvent } from "../../preload/timeline.ts";

/** A log event reported with `log.message`: it has spans (maybe none). */
export type MessageEvent = LogTimelineEvent & { spans: Span[] };

/** The decoded messages among `events`, on connection `conn` when given, in timeline order. */
export function messagesOf(events: TimelineEvent[], conn?: number): MessageEvent[] {
  return events.filter(
    (e): e is MessageEvent => e.kind === "log" && e.spans !== undefined && (conn === undefined || e.conn === conn),
  );
}

/**
 * The bytes that went `dir` on connection `conn`, end to end, as recorded: through the child's fd `fd` for a process
 * (what a span without fd means there: fd 0 for "out", 1 for "in"), all of them for a socket.
 */
export function streamOf(events: TimelineEvent[], conn: number, dir: Span["dir"], fd?: number): Buffer {
  return Buffer.concat(
    events.flatMap((e) =>
      e.kind === "data" && e.conn === conn && e.dir === dir && (e.fd === undefined || e.fd === (fd ?? defaultFd(dir)))
        ? [e.data]
        : [],
    ),
  );
}

function defaultFd(dir: Span["dir"]): number {
  return dir === "out" ? 0 : 1;
}

/**
 * The bytes `spans` stand for on connection `conn`, end to end. Throws when a span reaches past what was recorded:
 * a span pointing at bytes that never passed is a bug, not an empty slice.
 */
export function spannedBytes(events: TimelineEvent[], conn: number, spans: Span[]): Buffer {
  const streams = new Map<string, Buffer>();
  return Buffer.concat(
    spans.map((span) => {
      const key = `${span.dir}:${span.fd ?? ""}`;
      let stream = streams.get(key);
      if (stream === undefined) streams.set(key, (stream = streamOf(events, conn, span.dir, span.fd)));
      if (span.offset + span.length > stream.length) {
        throw new Error(`span ${JSON.stringify(span)} reaches past the ${stream.length} bytes recorded`);
      }
      return stream.subarray(span.offset, span.offset + span.length);
    }),
  );
}

/**
 * The data events on connection `conn` that hold bytes of `span`: how many chunks a message was spread over (a span
 * inside one chunk: 1).
 */
export function chunksUnder(events: TimelineEvent[], conn: number, span: Span): number {
  let offset = 0;
  let count = 0;
  for (const e of events) {
    if (e.kind !== "data" || e.conn !== conn || e.dir !== span.dir) continue;
    if (e.fd !== undefined && e.fd !== (span.fd ?? defaultFd(span.dir))) continue;
    const end = offset + e.data.length;
    if (end > span.offset && offset < span.offset + span.length) count += 1;
    offset = end;
  }
  return count;
}
