/**
 * Who writes a capture: the session registry names the writing process (its pid and host) in every capture's
 * header, so that whoever follows the capture from another process (follow-recording.ts, reopen-recording.ts) can
 * tell a capture that is only quiet — a language server waiting for its editor — from one whose writer crashed and
 * will never add its close.
 */
import * as os from "node:os";
import type { CaptureMeta } from "../recording/capture-format.ts";

/** The writing process, as kept in a capture's header under `writer`. */
export interface CaptureWriterId {
  pid: number;
  host: string;
}

/** What the session registry adds to a new capture's header: this process as its writer. */
export function thisWriter(): { writer: CaptureWriterId } {
  return { writer: { pid: process.pid, host: os.hostname() } };
}

/** The writer a capture's header names, or null when it names none (captures written before writers were named). */
export function writerOf(meta: CaptureMeta): CaptureWriterId | null {
  const writer = meta.writer;
  if (typeof writer !== "object" || writer === null) return null;
  const { pid, host } = writer as Record<string, unknown>;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0 || typeof host !== "string") return null;
  return { pid, host };
}

/**
 * Whether the process that writes the capture of `meta` still runs: true or false when this machine can tell,
 * null when it can't (no writer named, or one on another host). A pid reused since by another process reads as
 * alive: the caller may wait longer than needed, never stop too early. Never throws.
 */
export function writerAlive(meta: CaptureMeta): boolean | null {
  const writer = writerOf(meta);
  if (writer === null || writer.host !== os.hostname()) return null;
  try {
    // Signal 0 checks that the process exists without sending anything.
    process.kill(writer.pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
