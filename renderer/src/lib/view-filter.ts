/**
 * What the traffic view asks the engine to find: the filter box's expression (the filter language of
 * preload/filter-language.ts) joined with the view's own choices written as terms of the same language — the
 * direction and kind checkboxes, and the Messages view (decoded messages only). The connection shown goes as
 * findTimeline's `conn`, not as a term. Pure.
 */
import { parseFilter } from "../../../preload/filter-language.ts";

/** The traffic view's choices besides the filter box. */
export interface ViewChoices {
  incoming: boolean;
  outgoing: boolean;
  lifecycle: boolean;
  decoded: boolean;
  /** The Messages view: one row per decoded message (the lifecycle and decoded boxes do not apply). */
  messages: boolean;
}

/** The filter box read at once, for feedback under it: fine, or what is wrong and where. */
export function checkFilter(text: string): { ok: true } | { ok: false; message: string } {
  const parsed = parseFilter(text);
  return parsed.ok ? { ok: true } : { ok: false, message: parsed.message };
}

/**
 * The expression for the engine: "" when nothing is hidden (the rows are the timeline itself), null when the
 * choices leave nothing to show (every box unticked).
 */
export function viewExpression(text: string, choices: ViewChoices): string | null {
  const kinds = kindTerm(choices);
  if (kinds === null) return null;
  const typed = text.trim();
  return [typed === "" ? "" : `(${typed})`, kinds].filter((t) => t !== "").join(" && ");
}

/** The checkboxes as one term: "" when they hide nothing. */
function kindTerm({ incoming, outgoing, lifecycle, decoded, messages }: ViewChoices): string | null {
  const direction = incoming && outgoing ? "" : incoming ? "in" : outgoing ? "out" : null;
  if (messages) return direction === null ? null : ["message", direction].filter((t) => t !== "").join(" && ");
  if (direction === "" && lifecycle && decoded) return "";
  const shown = [
    direction === null ? null : direction === "" ? "data" : `(data && ${direction})`,
    lifecycle ? "lifecycle" : null,
    decoded ? "log" : null,
  ].filter((t) => t !== null);
  if (shown.length === 0) return null;
  return shown.length === 1 ? shown[0]! : `(${shown.join(" || ")})`;
}
