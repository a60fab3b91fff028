/**
 * `show --filter`: only the events of a session's timeline that match a filter (preload/filter-language.ts), found
 * by the engine's findTimeline page by page over the whole timeline and read by runs of consecutive seqs, printed in
 * the formats of every other command, their times counted from the timeline's first event (as the filter's `t` is).
 */
import type { SessionInfo } from "../../preload/contract.ts";
import { parseFilter } from "../../preload/filter-language.ts";
import { helpHint } from "./args.ts";
import { UsageError } from "./errors.ts";
import { TimelinePrinter } from "./printer.ts";
import type { CliRun } from "./run.ts";

/** Matches asked for per findTimeline call, and events per read (the contract's maximum for both). */
const PAGE = 10_000;

/**
 * Checks `filter` before anything is opened: a UsageError (exit code 2) that says what is wrong and points at it
 * under the filter as typed.
 */
export function checkFilter(command: string, filter: string): void {
  const parsed = parseFilter(filter);
  if (parsed.ok) return;
  throw new UsageError(
    `${command}: the filter is wrong ${parsed.message}`,
    `  ${filter}\n  ${" ".repeat(parsed.column - 1)}^\n${helpHint(command)}`,
  );
}

/** Prints `session`'s events that match `filter` (checked with checkFilter), of connection `conn` only if given. */
export async function printMatching(
  run: CliRun,
  session: SessionInfo,
  filter: string,
  conn: number | null,
): Promise<void> {
  const [first] = (await run.service.call("readTimeline", { session: session.id, from: 0, count: 1 })).events;
  const printer = new TimelinePrinter(run.io.stdout, run.options, session.epochMs, first?.t ?? null);
  for (let from = 0; from !== -1 && !run.signal.aborted;) {
    const page = await run.service.call("findTimeline", {
      session: session.id,
      filter,
      from,
      limit: PAGE,
      ...(conn !== null ? { conn } : {}),
    });
    const wanted = new Set(page.seqs);
    for (const [lo, hi] of runsOf(page.seqs)) {
      for (let at = lo; at <= hi;) {
        const { events } = await run.service.call("readTimeline", {
          session: session.id,
          from: at,
          count: Math.min(PAGE, hi - at + 1),
        });
        if (events.length === 0) break;
        printer.print(events.filter((e) => wanted.has(e.seq)));
        at += events.length;
      }
    }
    from = page.next;
  }
}

/** Ascending seqs as runs of consecutive ones, [first, last]. */
function runsOf(seqs: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const seq of seqs) {
    const last = runs.at(-1);
    if (last !== undefined && last[1] === seq - 1) last[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}
