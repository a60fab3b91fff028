/**
 * Between decoded messages and the bytes they came from, both ways, for the hex view: `locateSpans` (a message's or a
 * field's spans -> the chunks holding those bytes, and where in each) and `messageAt` (a byte of a stream -> the
 * message that holds it, and its narrowest field). Both answer from the index (timeline-index.ts); messageAt reads
 * the one message it found, for its fields' spans.
 */
import type { Direction, Span } from "../../preload/timeline.ts";
import type { Recorder } from "../recording/recorder.ts";

/** A piece of a span in one chunk: the chunk's seq, the range [start, end) of its bytes, and which span. */
export interface SpanPiece {
  seq: number;
  start: number;
  end: number;
  spanIndex: number;
}

/** The chunks of connection `conn` holding each of `spans`, span by span, each in stream order. */
export function locateSpans(recorder: Recorder, conn: number, spans: Span[]): SpanPiece[] {
  return spans.flatMap((span, spanIndex) =>
    recorder.index.locate(conn, span).map((piece) => ({ ...piece, spanIndex })),
  );
}

/** A byte of a stream: connection, direction, fd (a process's pipe), offset. */
export interface StreamByte {
  conn: number;
  dir: Direction;
  fd?: number;
  offset: number;
}

/**
 * The latest decoded message whose spans cover `at`, and the dotted path of its narrowest field span covering it
 * (null when none of its fields' spans does, or there is no such message).
 */
export async function messageAt(
  recorder: Recorder,
  at: StreamByte,
): Promise<{ seq: number | null; field: string | null }> {
  const seq = recorder.index.messageAt(at.conn, at.dir, at.fd, at.offset);
  if (seq === null) return { seq, field: null };
  const [event] = await recorder.read(seq, 1);
  let field: string | null = null;
  let narrowest = Infinity;
  if (event?.kind === "log") {
    for (const [path, spans] of Object.entries(event.fieldSpans ?? {})) {
      for (const span of spans) {
        const covers = span.dir === at.dir && span.fd === at.fd && span.offset <= at.offset;
        if (covers && at.offset < span.offset + span.length && span.length < narrowest) {
          narrowest = span.length;
          field = path;
        }
      }
    }
  }
  return { seq, field };
}
