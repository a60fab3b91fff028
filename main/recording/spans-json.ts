/**
 * The JSON text of a decoded message's spans as a capture payload holds it (capture-format.ts): written by hand, as
 * JSON.stringify writes a span made by the engine's message check (keys in Span's order, whole numbers), without its
 * cost per call. Shared by the capture writer (capture-encoding.ts) and the sandbox worker, which writes the whole
 * payload of a usual decoded message ahead (main/sandbox/wire-log-entries.ts): both must write the same text.
 */
import type { Span } from "../../preload/timeline.ts";

/** One span's JSON, for a span of whole numbers >= 0 (`fd` undefined: none), or null for any other. */
export function spanJson(dir: unknown, offset: number, length: number, fd: number | undefined): string | null {
  if ((dir !== "in" && dir !== "out") || !isCount(offset) || !isCount(length)) return null;
  if (fd !== undefined && !isCount(fd)) return null;
  return `{"dir":"${dir}","offset":${offset},"length":${length}${fd === undefined ? "" : `,"fd":${fd}`}}`;
}

/** The JSON of a message's spans: what JSON.stringify writes for them. */
export function spansJson(spans: readonly Span[]): string {
  let json = "";
  for (const s of spans) {
    const one = spanJson(s.dir, s.offset, s.length, s.fd);
    if (one === null) return JSON.stringify(spans);
    json += json === "" ? one : `,${one}`;
  }
  return `[${json}]`;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
