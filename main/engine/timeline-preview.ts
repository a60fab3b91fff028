/**
 * A timeline read for rows (readTimeline with `preview`): each chunk by its first bytes only. A row shows one line of
 * a chunk, so a view that follows a connection receiving 64 KiB chunks asks for a few hundred bytes a row instead of
 * the whole chunks, which base64 in JSON would make 4/3 bigger again on browser mode's WebSocket.
 *
 * The events come through Recorder.scan, which hands chunks read from the capture file over without copying them:
 * only the preview is copied.
 */
import type { DataEvent, TimelineEvent } from "../../preload/timeline.ts";
import { READ_MAX_BYTES, type Recorder } from "../recording/recorder.ts";

/**
 * Payload a preview read looks at, at most (after its first event): a page of the workbench's rows (200) of 64 KiB
 * chunks in one read, where a whole read stops at READ_MAX_BYTES; bounded, since the file's records are read and
 * checked whole all the same.
 */
export const PREVIEW_SCAN_BYTES = 4 * READ_MAX_BYTES;

/**
 * Events `from` .. `from + count - 1` of `recorder`'s timeline, clamped, in order, each chunk cut to its first
 * `preview` bytes with `size` set to its whole size when that cut it (a chunk no longer than `preview` comes whole,
 * without `size`). Fewer than asked, always a run from `from` and at least one event, past PREVIEW_SCAN_BYTES of
 * chunks looked at or READ_MAX_BYTES of previews returned. The events own their bytes. Offsets are not filled in:
 * the caller does it (TimelineIndex.fillOffsets, which counts a cut chunk by its `size`).
 */
export async function readPreviews(
  recorder: Recorder,
  from: number,
  count: number,
  preview: number,
): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  let returned = 0;
  let full = false;
  await recorder.scan(from, count, PREVIEW_SCAN_BYTES, (e) => {
    if (full) return;
    const event = e.kind === "data" ? previewOf(e, preview) : e;
    const bytes = event.kind === "data" ? event.data.byteLength : 0;
    if (returned + bytes > READ_MAX_BYTES && events.length > 0) {
      full = true;
      return;
    }
    returned += bytes;
    events.push(event);
  });
  return events;
}

/**
 * `e` with a copy of its first `preview` bytes: Recorder.scan's bytes are valid only while it visits `e`, and may be
 * a Buffer, whose `slice` would be a view, so the copy is made by the Uint8Array constructor.
 */
function previewOf(e: DataEvent, preview: number): DataEvent {
  const cut = e.data.byteLength > preview;
  const event: DataEvent = { ...e, data: new Uint8Array(e.data.subarray(0, preview)) };
  if (cut) event.size = e.data.byteLength;
  return event;
}
