/**
 * How a replay's answers are shown side by side: each answer cut into the bytes before the first difference, the
 * differing byte (highlighted), and the bytes after; long answers shown in a window around the difference. The
 * replay view renders the parts as text or hex with the same formatters as the traffic view's panes.
 *
 * The engine's report may itself carry only a window of a long answer (ReplayExchange's `...Window` fields, at
 * most 64 KiB, holding the first difference): offsets here are in the whole answer, and what the report left out
 * is counted with what the view leaves out.
 */
import type { BytesWindow, ReplayReport } from "../../../preload/contract.ts";
import { asciiWithNewlines, toHex } from "./bytes.ts";

/** How many bytes of an answer are shown at most. */
export const ANSWER_SHOWN = 4096;
/** When the first difference lies past ANSWER_SHOWN, how many bytes before it are shown. */
export const CONTEXT_BEFORE = 256;

/** One answer cut for display. */
export interface AnswerParts {
  /** The whole answer's length in bytes (more than the bytes at hand when the report carried a window). */
  total: number;
  /** Bytes not shown before `before` (the window starts later). */
  skipped: number;
  before: Uint8Array;
  /** The first differing byte, or empty (the answers are the same, or this one ends where the other goes on). */
  differing: Uint8Array;
  after: Uint8Array;
  /** This answer ends at the first difference: the other one goes on (or this one is empty). */
  endsAtDifference: boolean;
  /** Bytes not shown after `after`. */
  hidden: number;
}

/**
 * Cuts `data` at `firstDifference` (an offset in the whole answer; null when the answers are the same), keeping at
 * most `shown` bytes. `window` says where `data` lies in the whole when the report carried only part of it.
 */
export function answerParts(
  data: Uint8Array,
  firstDifference: number | null,
  shown = ANSWER_SHOWN,
  window?: BytesWindow,
): AnswerParts {
  const offset = window?.offset ?? 0;
  const total = window?.length ?? data.length;
  const reachesEnd = offset + data.length >= total;
  const at = firstDifference === null ? null : Math.max(0, Math.min(firstDifference - offset, data.length));
  const start = at !== null && at >= shown ? at - Math.min(CONTEXT_BEFORE, shown - 1) : 0;
  const end = Math.min(data.length, start + shown);
  const before = data.subarray(start, at === null ? end : Math.min(at, end));
  const differing = at === null || at >= data.length ? data.subarray(0, 0) : data.subarray(at, at + 1);
  const after = at === null ? data.subarray(end, end) : data.subarray(Math.min(at + 1, end), end);
  return {
    total,
    skipped: offset + start,
    before,
    differing,
    after,
    endsAtDifference: at !== null && at >= data.length && reachesEnd,
    hidden: total - offset - end,
  };
}

/**
 * "bytes 8,192–12,287 of 1,048,576" when the parts show less than the whole answer (offsets from 0, both ends
 * included, as "different from byte N" counts), or null when they show all of it.
 */
export function shownRange(parts: AnswerParts): string | null {
  const shown = parts.before.length + parts.differing.length + parts.after.length;
  if (parts.skipped === 0 && parts.hidden === 0) return null;
  const count = (n: number) => n.toLocaleString("en-US");
  if (shown === 0) return `none of ${count(parts.total)} bytes`;
  return `bytes ${count(parts.skipped)}–${count(parts.skipped + shown - 1)} of ${count(parts.total)}`;
}

/** How parts are written: as text (printable ASCII, line breaks kept) or as hex pairs. */
export type AnswerFormat = "text" | "hex";

/** The parts as strings in `format`; hex parts get a separating space where they meet. */
export function formatParts(
  parts: AnswerParts,
  format: AnswerFormat,
): { before: string; differing: string; after: string } {
  if (format === "text") {
    return {
      before: asciiWithNewlines(parts.before),
      differing: asciiWithNewlines(parts.differing),
      after: asciiWithNewlines(parts.after),
    };
  }
  const join = (a: Uint8Array, b: Uint8Array) => (a.length > 0 && b.length > 0 ? " " : "");
  return {
    before: toHex(parts.before) + join(parts.before, parts.differing.length > 0 ? parts.differing : parts.after),
    differing: toHex(parts.differing),
    after: join(parts.differing, parts.after) + toHex(parts.after),
  };
}

/** "7 the same, 1 different", with the state when it isn't done ("running", "failed: ..."). */
export function replaySummary(report: ReplayReport): string {
  const counts = `${report.same} the same, ${report.differing} different`;
  if (report.state === "running") return `${counts} so far (running)`;
  if (report.state === "failed") return `${counts}; the replay failed${report.error ? `: ${report.error}` : ""}`;
  return counts;
}
