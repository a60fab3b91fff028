/**
 * Reopening a Wirescope capture file (.wscap) as a session: the `openRecording` command. The capture's events are
 * copied, in order and with their times, onto a new "imported" session's timeline, and its connection rows are
 * rebuilt from them (addresses, counters, how each ended), so that every view — and every offline command: export,
 * decode, replay — works on an old capture as on a session recorded in this run.
 *
 * The copy is the new session's own capture (in the workspace's captures folder, like any session's): the original
 * file is only read, never resumed or repaired, so a capture still being written by another Wirescope is safe.
 */
import { access, stat } from "node:fs/promises";
import * as path from "node:path";
import { SessionKind, type SessionInfo } from "../../preload/contract.ts";
import { PADDING_BLOCK } from "../recording/capture-format.ts";
import { CaptureReader } from "../recording/capture-reader.ts";
import { CAPTURES_DIR, capturesDir } from "../workspace/layout.ts";
import { ConnectionRows } from "./connection-rows.ts";
import { copyEvents, finishCopy } from "./copy-recording.ts";
import { EngineError } from "./errors.ts";
import { writerAlive } from "./capture-writer-id.ts";
import { FOLLOW_IDLE_MS, RecordingFollower } from "./follow-recording.ts";
import type { SessionRegistry } from "./session-registry.ts";

/** A capture file that isn't there. */
export class RecordingNotFoundError extends EngineError {
  constructor(given: string, tried: readonly string[]) {
    super(
      "recording-not-found",
      `No capture file '${given}' (looked at ${tried.join(" and ")}): give the path of a .wscap file, ` +
        `or the name of one in the workspace's ${CAPTURES_DIR} folder.`,
    );
  }
}

/**
 * Where the capture `given` is: an absolute path as given; a relative one inside the workspace, first in its
 * captures folder, then from its root — never from the engine process's current directory, which the user doesn't
 * see (importCapture resolves the same way; the CLI passes absolute paths for files named from the shell).
 * Throws RecordingNotFoundError naming every place it looked.
 */
export async function locateRecording(given: string, workspaceRoot: string): Promise<string> {
  const candidates = path.isAbsolute(given)
    ? [given]
    : [path.resolve(capturesDir(workspaceRoot), given), path.resolve(workspaceRoot, given)];
  for (const candidate of candidates) {
    if (
      await access(candidate).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new RecordingNotFoundError(given, candidates);
}

/**
 * The `openRecording` command: finds the capture `given` (locateRecording), makes a new "imported" session named
 * after it, and copies the capture onto it (copy-recording.ts). A copy that fails or is stopped by `signal` leaves no
 * session and no capture behind. A capture that may still be written — without its session's close, with no more
 * than a record or padding unread at its end, its writer alive (stillWritten) — is then watched as long as the session
 * is listed (RecordingFollower): once it grows, the session follows it. Otherwise the reader is closed on return.
 */
export async function reopenRecording(
  given: string,
  where: { root: string; sessions: SessionRegistry; signal: AbortSignal | undefined },
): Promise<SessionInfo> {
  const file = await locateRecording(given, where.root);
  const reader = await CaptureReader.open(file);
  let follower: RecordingFollower | null = null;
  try {
    const meta = reader.meta;
    // A reopened capture's own capture names what recorded the first (reopened again, a process's stays one).
    const recordedKind = SessionKind.safeParse(meta.recordedKind ?? meta.kind);
    const entry = await where.sessions.createOffline("imported", {
      ...(recordedKind.success ? { recordedKind: recordedKind.data } : {}),
      name: typeof meta.name === "string" ? meta.name : path.basename(file),
      source: path.basename(file),
      epochMs: meta.timeOrigin,
      target: file,
    });
    const rows = new ConnectionRows(entry.session, String(meta.kind ?? ""));
    try {
      const closed = await copyEvents(reader, 0, rows, entry.recorder, where.signal);
      await finishCopy(reader, entry.session, rows, entry.recorder, closed);
      if (!closed && reader.lostBytes <= PADDING_BLOCK && (await stillWritten(file, reader))) {
        follower = new RecordingFollower(reader, rows, entry, where.sessions);
      }
    } catch (err) {
      await where.sessions.drop(entry);
      throw err;
    }
    follower?.start();
    where.sessions.changed();
    return entry.session.info();
  } finally {
    if (follower === null) await reader.close();
  }
}

/**
 * Whether another process seems to still write `file`: the writer its header names still runs (however long it has
 * been quiet); or, when that can't be checked from here, the file changed in the last FOLLOW_IDLE_MS. A capture
 * without its session's close that fails this is taken as finished (its writer stopped or crashed).
 */
async function stillWritten(file: string, reader: CaptureReader): Promise<boolean> {
  const alive = writerAlive(reader.meta);
  if (alive !== null) return alive;
  const { mtimeMs } = await stat(file);
  return Date.now() - mtimeMs < FOLLOW_IDLE_MS;
}
