/**
 * How a long read (an import, an export, a recording copied or decoded) lets its owner stop it: between two blocks
 * it gives the event loop a turn — so that a signal handler, such as the CLI's Ctrl+C, can run and abort the
 * signal — and then stops by throwing the signal's reason.
 */
import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Told by a long read, between blocks, how far it has got: `done` of `total` (null when unknown) bytes of the file
 * or events of the timeline it reads. The owner decides what to do with it (the engine throttles it into onProgress).
 */
export type ReportProgress = (done: number, total: number | null) => void;

/**
 * Called by a reading loop between blocks (a MiB of file, a few thousand events). Without a signal, returns at
 * once. With one, resolves after one turn of the event loop, or rejects with `signal.reason` once it is aborted:
 * the loop's own cleanup (a partial file removed, a session dropped) runs as for any error.
 */
export async function betweenBlocks(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return;
  signal.throwIfAborted();
  await nextTurn();
  signal.throwIfAborted();
}
