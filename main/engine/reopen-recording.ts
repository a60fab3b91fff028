/**
 * Reopening a Wirescope capture file (.wscap) as a session: the `openRecording` command. The capture's events are
 * copied, in order and with their times, onto a new "imported" session's timeline, and its connection rows are
 * rebuilt from them (addresses, counters, how each ended), so that every view — and every offline command: export,
 * decode, replay — works on an old capture as on a session recorded in this run.
 *
 * The copy is the new session's own capture (in the workspace's captures folder, like any session's): the original
 * file is only read, never resumed or repaired, so a capture still being written by another Wirescope is safe.
 */
import { access } from "node:fs/promises";
import * as path from "node:path";
import type { SessionInfo } from "../../preload/contract.ts";
import type { LifecycleTimelineEvent, Leg, TimelineEvent } from "../../preload/timeline.ts";
import { betweenBlocks } from "../interchange/stop-check.ts";
import type { CaptureMeta } from "../recording/capture-format.ts";
import { CaptureReader } from "../recording/capture-reader.ts";
import { CAPTURES_DIR, capturesDir } from "../workspace/layout.ts";
import { EngineError } from "./errors.ts";
import type { ConnectionRecord, TimelineSink } from "./recording-protocol.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { Session } from "./session.ts";

/** Events copied per read: bounds memory whatever the capture's size. */
const COPY_BATCH = 4096;

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
 * after it, and copies the capture onto it (copyRecording). A copy that fails or is stopped by `signal` leaves no
 * session and no capture behind. The reader is closed in every case.
 */
export async function reopenRecording(
  given: string,
  where: { root: string; sessions: SessionRegistry; signal: AbortSignal | undefined },
): Promise<SessionInfo> {
  const file = await locateRecording(given, where.root);
  const reader = await CaptureReader.open(file);
  try {
    const meta = reader.meta;
    const entry = await where.sessions.createOffline("imported", {
      name: typeof meta.name === "string" ? meta.name : path.basename(file),
      source: path.basename(file),
      epochMs: meta.timeOrigin,
      target: file,
    });
    try {
      await copyRecording(reader, entry.session, entry.recorder, where.signal);
    } catch (err) {
      await where.sessions.drop(entry);
      throw err;
    }
    where.sessions.changed();
    return entry.session.info();
  } finally {
    await reader.close();
  }
}

/** The timeline of the session a recording is copied onto: its recorder, which can be waited on between batches. */
export interface CopySink extends TimelineSink {
  flush(): Promise<void>;
}

/**
 * Copies every readable event of `reader` onto `timeline` (renumbered from the timeline's next seq, times kept)
 * and gives `session` one connection row per recorded connection. Reads in batches and waits for each to reach
 * the new capture before reading on; `signal`, checked between batches, stops the copy by throwing its reason. A
 * recording cut short (see cutShort) ends with an "error" note saying where, also set as the session's error.
 * Returns the capture's meta (for the session's name and epoch).
 */
export async function copyRecording(
  reader: CaptureReader,
  session: Session,
  timeline: CopySink,
  signal?: AbortSignal,
): Promise<CaptureMeta> {
  const rows = new ConnectionRows(session, String(reader.meta.kind ?? ""));
  let closed = false;
  for (let from = 0; from < reader.count;) {
    const events = await reader.read(from, COPY_BATCH);
    if (events.length === 0) break;
    for (const e of events) {
      const { seq: _seq, ...event } = e;
      timeline.append(event);
      rows.saw(e);
      closed ||= e.conn === 0 && e.kind === "lifecycle" && e.event === "closed";
    }
    from += events.length;
    await timeline.flush();
    await betweenBlocks(signal);
  }
  const lastT = reader.summary.lastT ?? 0;
  rows.finish(lastT);
  const loss = cutShort(reader, closed);
  if (loss !== null) {
    session.recordingCutShort(loss);
    timeline.append({ kind: "lifecycle", t: lastT, conn: 0, event: "error", detail: loss });
    await timeline.flush();
  }
  return reader.meta;
}

/** Kinds of session whose capture ends with the session's "closed" note once the engine has closed it. */
const CLOSED_WHEN_DONE = new Set(["client", "listener", "proxy", "replay"]);

/**
 * What a capture lost, in a sentence, or null if it is whole: bytes at its end that don't read as records (a
 * record torn when the process writing it was killed; the file format keeps them, the reader skips them), or a
 * live session's capture without its "closed" note (its process stopped before closing it, or still writes it).
 * Names the last recorded time, in seconds since the capture's first event (as the CLI prints them) and on the
 * wall clock, and the unreadable bytes; what happened after that time is not in the capture.
 */
export function cutShort(reader: CaptureReader, closed: boolean): string | null {
  const unclosed = !closed && CLOSED_WHEN_DONE.has(String(reader.meta.kind ?? ""));
  if (reader.lostBytes === 0 && !unclosed) return null;
  const { firstT, lastT } = reader.summary;
  const seconds = ((lastT ?? 0) - (firstT ?? 0)) / 1e6;
  const wall = new Date(reader.meta.timeOrigin + (lastT ?? 0) / 1000).toISOString();
  const where =
    lastT === null ? "The recording holds no events" : `The recording stops at ${seconds.toFixed(6)} s (${wall})`;
  const why = unclosed
    ? " without its session's close: the process writing it stopped (killed or crashed), or still writes it"
    : "";
  const lost =
    reader.lostBytes > 0
      ? `; ${reader.lostBytes} bytes at the end of the file could not be read (a record cut off mid-write)`
      : "";
  return `${where}${why}${lost}. Anything after that is not in the capture.`;
}

/**
 * Rebuilds connection rows from a timeline, the way the recording factories filled them in live: numbered as
 * recorded, with the addresses of "connected" ("host -> peer"), counters from data, and the loss reason.
 */
class ConnectionRows {
  private readonly records = new Map<number, ConnectionRecord>();
  /** Proxy: accepted legs that connected and have no upstream leg yet, oldest first. */
  private readonly unpaired: ConnectionRecord[] = [];

  constructor(
    private readonly session: Session,
    /** The recorded session's kind (from the capture's meta). */
    private readonly kind: string,
  ) {}

  saw(e: TimelineEvent): void {
    if (e.conn === 0) return;
    const record = this.records.get(e.conn) ?? this.open(e);
    if (e.kind === "data") {
      if (e.dir === "in") {
        record.bytesIn += e.data.byteLength;
        record.chunksIn += 1;
      } else {
        record.bytesOut += e.data.byteLength;
        record.chunksOut += 1;
      }
    } else if (e.kind === "lifecycle") {
      this.lifecycle(record, e);
    }
  }

  /**
   * The row of a connection seen for the first time, under its recorded number. Numbers the recording skips get no
   * row: a capture naming connection 300,000 alone makes one row, not 300,000.
   */
  private open(first: TimelineEvent): ConnectionRecord {
    const opened = first.kind === "lifecycle" && first.event === "connecting";
    const record = this.session.newConnection(this.legOf(opened), first.conn);
    record.openedAt = first.t;
    this.records.set(record.conn, record);
    if (this.kind === "proxy" && record.leg === "server") {
      const client = this.unpaired.shift();
      if (client) {
        client.pairedWith = record.conn;
        record.pairedWith = client.conn;
      }
    }
    return record;
  }

  /**
   * Which leg a connection was: on a listener or a proxy, one Wirescope opened (it starts with "connecting": a
   * proxy's upstream, a connection a protocol opened) is a "server" leg and an accepted one a "client" leg; a client
   * session's and an offline session's connections are "server" legs, as the engine records them.
   */
  private legOf(opened: boolean): Leg {
    if (this.kind === "listener" || this.kind === "proxy") return opened ? "server" : "client";
    return "server";
  }

  private lifecycle(record: ConnectionRecord, e: LifecycleTimelineEvent): void {
    switch (e.event) {
      case "connected": {
        const [host, peer] = e.detail.split(" -> ");
        record.host = host ?? "";
        record.peer = peer ?? "";
        record.state = "connected";
        if (this.kind === "proxy" && record.leg === "client") this.unpaired.push(record);
        break;
      }
      case "connecting":
        if (record.peer === "") record.peer = e.detail;
        break;
      case "read-closed":
      case "write-closed":
        if (record.state !== "closed") record.state = "half-closed";
        break;
      case "lost":
      case "failed":
        record.state = "closed";
        record.closedAt = e.t;
        record.reason = e.detail;
        break;
    }
  }

  /** Connections the recording leaves open end where the recording ends. */
  finish(lastT: number): void {
    for (const record of this.records.values()) {
      if (record.state === "closed") continue;
      record.state = "closed";
      record.closedAt = lastT;
      record.reason = "ConnectionLost: the recording ends before the connection closed.";
    }
  }
}
