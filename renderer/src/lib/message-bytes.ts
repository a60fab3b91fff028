/**
 * A decoded message's bytes, put together from the chunks that carried them, and the two ways between those bytes
 * and the message's fields: a field's spans as ranges of the assembled bytes (to highlight them), and a byte back to
 * the narrowest field holding it (a click in the hex view). The engine's `locateSpans` says which chunks hold a
 * message's spans and where; this module only does the arithmetic, so that a message split over a thousand chunks,
 * or five messages in one chunk, map to exactly their bytes. Pure.
 */
import type { Direction, Span } from "../../../preload/timeline.ts";

/** A piece of a span inside one data event's chunk, as `locateSpans` answers: bytes [start, end) of event `seq`. */
export interface SpanPiece {
  seq: number;
  start: number;
  end: number;
  spanIndex: number;
}

/** Where a run of the assembled bytes came from. */
export interface Segment {
  /** The data event holding it, and where in its chunk. */
  seq: number;
  chunkStart: number;
  /** Where it starts in the assembled bytes, and how long it is. */
  start: number;
  length: number;
  /** Its first byte in the stream. */
  dir: Direction;
  fd: number | undefined;
  offset: number;
}

/** A message's bytes and where each run of them came from, in stream order. */
export interface MessageBytes {
  data: Uint8Array;
  segments: Segment[];
  /** Bytes of the spans no chunk held (a capture cut short): the bytes shown are fewer than the spans say. */
  missing: number;
}

/** A half-open range [start, end) of the assembled bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Puts together the bytes of `spans` from `pieces` (in stream order) and the chunks they point at (`chunkOf(seq)`,
 * undefined for one that could not be read: its piece is left out and counted as missing).
 */
export function assembleMessage(
  spans: readonly Span[],
  pieces: readonly SpanPiece[],
  chunkOf: (seq: number) => Uint8Array | undefined,
): MessageBytes {
  const used = new Array<number>(spans.length).fill(0);
  const segments: Segment[] = [];
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const piece of pieces) {
    const span = spans[piece.spanIndex];
    const chunk = chunkOf(piece.seq);
    const length = piece.end - piece.start;
    if (!span || length <= 0) continue;
    const offset = span.offset + used[piece.spanIndex]!;
    used[piece.spanIndex]! += length;
    if (!chunk || piece.end > chunk.length) continue;
    segments.push({
      seq: piece.seq,
      chunkStart: piece.start,
      start: size,
      length,
      dir: span.dir,
      fd: span.fd,
      offset,
    });
    parts.push(chunk.subarray(piece.start, piece.end));
    size += length;
  }
  const data = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  const wanted = spans.reduce((n, s) => n + s.length, 0);
  return { data, segments, missing: Math.max(0, wanted - size) };
}

/** The ranges of the assembled bytes that `spans` (a field's) cover, merged where they touch. */
export function rangesOf(spans: readonly Span[], segments: readonly Segment[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const span of spans) {
    for (const seg of segments) {
      if (!sameStream(seg, span)) continue;
      const from = Math.max(span.offset, seg.offset);
      const to = Math.min(span.offset + span.length, seg.offset + seg.length);
      if (from < to) out.push({ start: seg.start + from - seg.offset, end: seg.start + to - seg.offset });
    }
  }
  out.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

/** The stream position of byte `index` of the assembled bytes, or null past its end. */
export function streamPositionOf(
  index: number,
  segments: readonly Segment[],
): { dir: Direction; fd: number | undefined; offset: number } | null {
  for (const seg of segments) {
    if (index >= seg.start && index < seg.start + seg.length) {
      return { dir: seg.dir, fd: seg.fd, offset: seg.offset + index - seg.start };
    }
  }
  return null;
}

/**
 * The narrowest field whose spans cover the stream byte at `offset` going `dir` (through `fd`), or null: what a click
 * on that byte selects. Ties go to the deeper path (a list item over the list).
 */
export function fieldAt(
  fieldSpans: Record<string, readonly Span[]> | undefined,
  dir: Direction,
  fd: number | undefined,
  offset: number,
): string | null {
  let best: { path: string; length: number } | null = null;
  for (const [path, spans] of Object.entries(fieldSpans ?? {})) {
    for (const s of spans) {
      if (!sameStream(s, { dir, fd }) || offset < s.offset || offset >= s.offset + s.length) continue;
      const deeper = best !== null && s.length === best.length && path.split(".").length > best.path.split(".").length;
      if (best === null || s.length < best.length || deeper) best = { path, length: s.length };
    }
  }
  return best?.path ?? null;
}

/**
 * Whether two spans are of the same stream: the same direction and pipe. A process's stdin is one stream out
 * whether a span names fd 0 or no fd (sockets name none either way).
 */
function sameStream(
  a: { dir: Direction; fd?: number | undefined },
  b: { dir: Direction; fd?: number | undefined },
): boolean {
  const fd = (s: typeof a) => s.fd ?? (s.dir === "out" ? 0 : undefined);
  return a.dir === b.dir && fd(a) === fd(b);
}

/** The total length of a message's spans: its size in the Messages view. */
export function spansLength(spans: readonly Span[]): number {
  return spans.reduce((n, s) => n + s.length, 0);
}
