/**
 * Copying a capture's events onto a reopened session (reopen-recording.ts): its timeline and connection rows, in
 * bounded batches, once or again and again as the capture grows (follow-recording.ts), and what a capture cut short
 * lost.
 */
import { betweenBlocks } from "../interchange/stop-check.ts";
import type { CaptureReader } from "../recording/capture-reader.ts";
import type { ConnectionRows } from "./connection-rows.ts";
import type { TimelineSink } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/** Events copied per read: bounds memory whatever the capture's size. */
const COPY_BATCH = 4096;

/** The timeline of the session a recording is copied onto: its recorder, which can be waited on between batches. */
export interface CopySink extends TimelineSink {
  flush(): Promise<void>;
}

/**
 * Copies the readable events of `reader` from record `from` on onto `timeline` (renumbered from the timeline's next
 * seq, times kept), and into `rows`: one connection row per recorded connection. Reads in batches and waits for each
 * to reach the new capture before reading on; `signal`, checked between batches, stops the copy by throwing its
 * reason. Before appending each batch, `stillWanted` (when given) is asked: if false, nothing more is appended and
 * the copy ends. Returns whether the capture's session's "closed" note was among them.
 */
export async function copyEvents(
  reader: CaptureReader,
  from: number,
  rows: ConnectionRows,
  timeline: CopySink,
  signal?: AbortSignal,
  stillWanted: () => boolean = () => true,
): Promise<boolean> {
  let closed = false;
  while (from < reader.count) {
    const events = await reader.read(from, COPY_BATCH);
    if (events.length === 0 || !stillWanted()) break;
    for (const e of events) {
      const { seq: _seq, ...event } = e;
      timeline.append(event);
      rows.saw(e);
      closed ||= e.conn === 0 && e.kind === "lifecycle" && e.event === "closed";
    }
    from += events.length;
    await timeline.flush();
    await betweenBlocks(signal);
  }
  return closed;
}

/**
 * Ends a copy: connections left open end where the recording ends, and a recording cut short (cutShort) gets its
 * "error" note, also set as the session's error.
 */
export async function finishCopy(
  reader: CaptureReader,
  session: Session,
  rows: ConnectionRows,
  timeline: CopySink,
  closed: boolean,
): Promise<void> {
  const lastT = reader.summary.lastT ?? 0;
  rows.finish(lastT);
  const loss = cutShort(reader, closed);
  if (loss !== null) {
    session.recordingCutShort(loss);
    timeline.append({ kind: "lifecycle", t: lastT, conn: 0, event: "error", detail: loss });
    await timeline.flush();
  }
}

/** Kinds of session whose capture ends with the session's "closed" note once the engine has closed it. */
const CLOSED_WHEN_DONE = new Set(["client", "listener", "proxy", "replay"]);

/**
 * What a capture lost, in a sentence, or null if it is whole: bytes at its end that don't read as records (a
 * record torn when the process writing it was killed; the file format keeps them, the reader skips them), or a
 * live session's capture without its "closed" note (its process stopped before closing it, or still writes it).
 * Names the last recorded time, in seconds since the capture's first event (as the CLI prints them) and on the
 * wall clock, and the unreadable bytes; what happened after that time is not in the capture.
 */
export function cutShort(reader: CaptureReader, closed: boolean): string | null {
  const unclosed = !closed && CLOSED_WHEN_DONE.has(String(reader.meta.kind ?? ""));
  if (reader.lostBytes === 0 && !unclosed) return null;
  const { firstT, lastT } = reader.summary;
  const seconds = ((lastT ?? 0) - (firstT ?? 0)) / 1e6;
  const wall = new Date(reader.meta.timeOrigin + (lastT ?? 0) / 1000).toISOString();
  const where =
    lastT === null ? "The recording holds no events" : `The recording stops at ${seconds.toFixed(6)} s (${wall})`;
  const why = unclosed
    ? " without its session's close: the process writing it stopped (killed or crashed), or still writes it"
    : "";
  const lost =
    reader.lostBytes > 0
      ? `; ${reader.lostBytes} bytes at the end of the file could not be read (a record cut off mid-write)`
      : "";
  return `${where}${why}${lost}. Anything after that is not in the capture.`;
}
