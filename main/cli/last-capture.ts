/**
 * What "last" means on the command line (`export last`, `decode last`): the newest capture of a live session —
 * one that talked to the network (a client, a listener, a proxy, a replay) or to a program it ran (a process) — that
 * recorded something on a connection. The CLI's own by-products never count: the captures of decodes, of imported
 * or reopened recordings, and of sessions that failed before any connection (a listen whose address was in use).
 */
import { readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import type { SessionKind } from "../../preload/contract.ts";
import { CaptureReader } from "../recording/capture-reader.ts";

/** Session kinds whose captures are traffic the user recorded. */
const LIVE_KINDS: ReadonlySet<SessionKind> = new Set(["client", "listener", "proxy", "replay", "process"]);

/** How many events are read at a time while looking for a connection's event ... */
const SCAN_EVENTS = 512;
/** ... and at most about this many bytes of data (a read stops early rather than load a large capture). */
const SCAN_BYTES = 1024 * 1024;

/**
 * The newest capture in `folder` (by modification time) that `isRecordedTraffic`, or null when there is none.
 * Reads the candidates newest first and stops at the first that qualifies.
 */
export async function lastRecordedCapture(folder: string): Promise<string | null> {
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith(".wscap"));
  const files: { file: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    const info = await stat(file).catch(() => null);
    if (info?.isFile()) files.push({ file, mtimeMs: info.mtimeMs });
  }
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { file } of files) {
    if (await isRecordedTraffic(file)) return file;
  }
  return null;
}

/**
 * Whether `file` is the capture of a live session (its header's `kind`) holding at least one event of a
 * connection (`conn` > 0), not only the session's own events. A file that can't be read counts as not.
 */
export async function isRecordedTraffic(file: string): Promise<boolean> {
  const reader = await CaptureReader.open(file).catch(() => null);
  if (reader === null) return false;
  try {
    const kind = reader.meta.kind;
    if (typeof kind !== "string" || !LIVE_KINDS.has(kind as SessionKind)) return false;
    for (let from = 0; from < reader.summary.count;) {
      const events = await reader.read(from, SCAN_EVENTS, SCAN_BYTES);
      if (events.length === 0) return false;
      if (events.some((e) => e.conn > 0)) return true;
      from += events.length;
    }
    return false;
  } catch {
    return false;
  } finally {
    await reader.close();
  }
}
