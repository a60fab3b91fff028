/**
 * Fetches a decoded message's bytes for the detail pane: asks the engine where its spans lie (`locateSpans`, at most
 * LOCATE_BATCH spans a call), reads the chunks holding them (runs of nearby seqs in one `readTimeline` each) and puts
 * them together (message-bytes.ts). Stops at MAX_MESSAGE_BYTES: a bigger message shows its first bytes, and says so.
 */
import type { Result } from "../../../preload/contract.ts";
import type { Span } from "../../../preload/timeline.ts";
import { assembleMessage, type MessageBytes, type SpanPiece } from "./message-bytes.ts";
import type { ReadTimeline } from "./timeline-cache.ts";

/** The `locateSpans` command for one connection of the session shown. */
export type LocateSpans = (spans: Span[]) => Promise<Result<{ pieces: SpanPiece[] }>>;

/** Spans per `locateSpans` call (the contract's limit). */
export const LOCATE_BATCH = 64;
/** Bytes of a message the detail pane shows at most. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Chunks at most this many seqs apart are read in one request; a request reads at most READ_RUN events. */
const READ_GAP = 64;
const READ_RUN = 2000;

/** A message's bytes, or why they could not be had. */
export type LoadedMessage = { ok: true; bytes: MessageBytes; cut: boolean } | { ok: false; message: string };

export async function loadMessageBytes(
  locate: LocateSpans,
  read: ReadTimeline,
  spans: readonly Span[],
  maxBytes = MAX_MESSAGE_BYTES,
): Promise<LoadedMessage> {
  const pieces: SpanPiece[] = [];
  let size = 0;
  let cut = false;
  for (let i = 0; i < spans.length && !cut; i += LOCATE_BATCH) {
    const result = await locate(spans.slice(i, i + LOCATE_BATCH));
    if (!result.ok) return { ok: false, message: result.error.message };
    for (const p of result.value.pieces) {
      if (size + p.end - p.start > maxBytes) {
        cut = true;
        break;
      }
      size += p.end - p.start;
      pieces.push({ ...p, spanIndex: p.spanIndex + i });
    }
  }
  const chunks = new Map<number, Uint8Array>();
  const seqs = [...new Set(pieces.map((p) => p.seq))].sort((a, b) => a - b);
  for (let i = 0; i < seqs.length;) {
    const from = seqs[i]!;
    let j = i + 1;
    while (j < seqs.length && seqs[j]! - seqs[j - 1]! <= READ_GAP && seqs[j]! - from < READ_RUN) j++;
    const page = await read(from, seqs[j - 1]! - from + 1);
    if (!page) return { ok: false, message: "the timeline could not be read" };
    for (const e of page.events) if (e.kind === "data") chunks.set(e.seq, e.data);
    i = j;
  }
  const bytes = assembleMessage(spans, pieces, (seq) => chunks.get(seq));
  return { ok: true, bytes, cut };
}
