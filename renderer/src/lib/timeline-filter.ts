/**
 * What the traffic view's filters mean: which events a row stands for, given the connection shown, the direction
 * and kind checkboxes and the search box. Pure; the filtered index (filtered-index.ts) applies it page by page.
 */
import type { TimelineEvent } from "../../../preload/timeline.ts";
import { indexOfBytes, parseHex } from "./bytes.ts";

/** A search: text (case-insensitive, over a chunk's bytes as Latin-1, a lifecycle's detail, a log's text and fields), or bytes. */
export type Search = { kind: "text"; text: string } | { kind: "hex"; bytes: Uint8Array };

/** The filters of a traffic view. */
export interface TimelineFilter {
  /** Only this connection's events; null for the whole session. */
  conn: number | null;
  incoming: boolean;
  outgoing: boolean;
  lifecycle: boolean;
  decoded: boolean;
  search: Search | null;
}

/** The prefix that turns the search box into a byte search: "hex: de ad". */
export const HEX_SEARCH_PREFIX = "hex:";

/**
 * Reads the search box. Empty means no search; "hex: de ad" (any case, spaces optional) searches for those bytes,
 * with the send box's hex rules; anything else is text. A bad hex search says why, like the send box does.
 */
export function parseSearch(input: string): { ok: true; search: Search | null } | { ok: false; message: string } {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: true, search: null };
  if (trimmed.toLowerCase().startsWith(HEX_SEARCH_PREFIX)) {
    const parsed = parseHex(trimmed.slice(HEX_SEARCH_PREFIX.length));
    if (!parsed.ok) return { ok: false, message: `hex search: ${parsed.message}` };
    if (parsed.bytes.length === 0) return { ok: true, search: null };
    return { ok: true, search: { kind: "hex", bytes: parsed.bytes } };
  }
  return { ok: true, search: { kind: "text", text: trimmed.toLowerCase() } };
}

/** Whether `filter` hides anything: if not, rows are the timeline itself and need no index. */
export function isFiltering(filter: TimelineFilter): boolean {
  return (
    filter.conn !== null ||
    !filter.incoming ||
    !filter.outgoing ||
    !filter.lifecycle ||
    !filter.decoded ||
    filter.search !== null
  );
}

/** Whether `event` is a row under `filter`. */
export function matches(event: TimelineEvent, filter: TimelineFilter): boolean {
  if (filter.conn !== null && event.conn !== filter.conn) return false;
  switch (event.kind) {
    case "data":
      if (!(event.dir === "in" ? filter.incoming : filter.outgoing)) return false;
      break;
    case "lifecycle":
      if (!filter.lifecycle) return false;
      break;
    case "log":
      if (!filter.decoded) return false;
      break;
  }
  const search = filter.search;
  if (search === null) return true;
  if (search.kind === "hex") return event.kind === "data" && indexOfBytes(event.data, search.bytes) !== -1;
  return searchableText(event).toLowerCase().includes(search.text);
}

/** The text a text search looks in. */
function searchableText(event: TimelineEvent): string {
  switch (event.kind) {
    case "data":
      return latin1(event.data);
    case "lifecycle":
      return `${event.event} ${event.detail}`;
    case "log":
      return `${event.text} ${JSON.stringify(event.fields)}`;
  }
}

/** Bytes as Latin-1, one char per byte: a text search finds ASCII words in binary chunks. */
function latin1(data: Uint8Array): string {
  let out = "";
  const CHUNK = 8192;
  for (let i = 0; i < data.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, Array.from(data.subarray(i, i + CHUNK)));
  }
  return out;
}
