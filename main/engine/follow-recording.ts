/**
 * Following a reopened capture that another process still writes (a `wirescope wrap`, a CLI session, another
 * workbench): the imported session's timeline grows as the capture does, so every view follows it live.
 *
 * The reopened session first shows the capture as it was (cut short, connections ended where it ends). The file is
 * then watched: every FOLLOW_POLL_MS its size is checked, and records appended since the last look are checked (checksum,
 * numbering) and copied, reading only past what was read and at most FOLLOW_READ_BYTES per look. Once it has grown,
 * the session follows it (SessionInfo.following; its error cleared and its ended connections open again, as the
 * capture goes on). A partial record at the end, or the writer's zero padding, is waited for. Watching stops when
 * the capture's session closes (its "closed" note), when the file is damaged (a record that still fails its check
 * on a second look with more than a padding block written after it: an error on the session and its timeline), or
 * at the first look after the session was removed or the engine closed.
 *
 * It also stops when the writer is gone without closing the capture (it crashed, or was killed): at the first look
 * that finds nothing new once the process its header names (capture-writer-id.ts) no longer runs; or, when this
 * machine can't check that process, once the file has not grown for FOLLOW_IDLE_MS. Either is said on the session
 * and its timeline, like damage. A quiet capture whose writer still runs is followed for as long as it is listed.
 */
import { PADDING_BLOCK } from "../recording/capture-format.ts";
import type { CaptureReader } from "../recording/capture-reader.ts";
import { writerAlive, writerOf } from "./capture-writer-id.ts";
import type { ConnectionRows } from "./connection-rows.ts";
import { copyEvents } from "./copy-recording.ts";
import type { SessionEntry, SessionRegistry } from "./session-registry.ts";

/** How often the followed file's size is looked at. */
export const FOLLOW_POLL_MS = 250;

/** New bytes read per look at most (more only for one larger record): bounds each look's work. */
const FOLLOW_READ_BYTES = 4 * 1024 * 1024;

/**
 * How long a capture whose writer can't be checked from here may stay the same size before following stops; also
 * how recently such a capture must have changed to be followed at all when opened (reopen-recording.ts).
 */
export const FOLLOW_IDLE_MS = 10_000;

/**
 * Follows `reader`'s file onto `entry`'s session, whose timeline already holds every record the reader had read
 * (copy-recording.ts's copyEvents). Owns the reader from `start` on and closes it when following stops.
 */
export class RecordingFollower {
  #timer: NodeJS.Timeout | null = null;
  /** Records of the file copied so far. */
  #copied: number;
  /** Where the valid records ended at the last look when bytes that don't read as records followed; else -1. */
  #stuckAt = -1;
  #stopped = false;
  /** The file's size at the last look, and Date.now() when it was last seen to change (or following started). */
  #size = -1;
  #grewAt = Date.now();

  constructor(
    private readonly reader: CaptureReader,
    private readonly rows: ConnectionRows,
    private readonly entry: SessionEntry,
    private readonly sessions: SessionRegistry,
  ) {
    this.#copied = reader.count;
  }

  /** Takes the first look after FOLLOW_POLL_MS. */
  start(): void {
    this.schedule();
  }

  private schedule(): void {
    this.#timer = setTimeout(() => void this.look(), FOLLOW_POLL_MS);
    this.#timer.unref();
  }

  /** Whether the session is still in the list: once removed (or the engine closed), nothing more is added to it. */
  private readonly wanted = (): boolean => {
    if (this.#stopped) return false;
    try {
      return this.sessions.get(this.entry.session.id) === this.entry;
    } catch {
      return false;
    }
  };

  /** One look at the file: copies what was appended, then decides whether to go on. */
  private async look(): Promise<void> {
    this.#timer = null;
    if (!this.wanted()) return this.stop();
    try {
      // Asked before reading: a writer that appended and then died has its last records read on this look.
      const alive = writerAlive(this.reader.meta);
      const { size, unread, padding } = await this.reader.grow(FOLLOW_READ_BYTES);
      if (!this.wanted()) return this.stop();
      if (size !== this.#size) this.#grewAt = Date.now();
      this.#size = size;
      const before = this.#copied;
      if (this.reader.count > before && !this.entry.session.following) {
        this.rows.resume();
        this.entry.session.followingRecording(true);
      }
      const closed = await copyEvents(this.reader, before, this.rows, this.entry.recorder, undefined, this.wanted);
      if (!this.wanted()) return this.stop();
      this.#copied = this.reader.count;
      if (closed) return this.finish();
      const damaged = unread > PADDING_BLOCK && !padding;
      if (damaged && this.#stuckAt === this.reader.index.end) return this.damaged(unread);
      this.#stuckAt = damaged ? this.reader.index.end : -1;
      if (this.#copied > before) this.sessions.changed();
      const gone = this.#copied === before ? this.writerGone(alive) : null;
      if (gone !== null) return this.abandoned(gone);
      this.schedule();
    } catch (err) {
      if (!this.wanted()) return this.stop();
      const why = err instanceof Error ? err.message : String(err);
      this.entry.session.recordingCutShort(`Following the capture stopped: ${why}`);
      await this.finish();
    }
  }

  /** The capture holds a record that fails its check with more written after it: an error on the session. */
  private async damaged(unread: number): Promise<void> {
    const reason =
      `Record ${this.reader.count} of the capture fails its check (checksum or numbering) with ${unread} bytes ` +
      `written after it: the file is damaged there, and nothing after it is read.`;
    this.entry.session.recordingCutShort(reason);
    const t = this.reader.summary.lastT ?? 0;
    this.entry.recorder.append({ kind: "lifecycle", t, conn: 0, event: "error", detail: reason });
    await this.finish();
  }

  /**
   * Why the capture will not grow any more although its session never closed it, or null while it may: its writer
   * no longer runs (`alive` false), or can't be checked (`alive` null) and the file has not grown for FOLLOW_IDLE_MS.
   */
  private writerGone(alive: boolean | null): string | null {
    if (alive === false) return `its writer (process ${writerOf(this.reader.meta)?.pid}) is no longer running`;
    const quietMs = Date.now() - this.#grewAt;
    if (alive === null && quietMs >= FOLLOW_IDLE_MS) {
      return `it has not grown for ${Math.round(quietMs / 1000)} s and its writer can't be checked from here`;
    }
    return null;
  }

  /** The writer is gone without the capture's close (writerGone): said on the session and its timeline. */
  private async abandoned(why: string): Promise<void> {
    const t = this.reader.summary.lastT ?? 0;
    const reason =
      `Following the capture stopped: ${why}, and it ends without its session's close, ` +
      `${this.reader.count} records in. What happened after its last record is not in it.`;
    this.entry.session.recordingCutShort(reason);
    this.entry.recorder.append({ kind: "lifecycle", t, conn: 0, event: "error", detail: reason });
    await this.finish();
  }

  /** Stops following with the capture's end: connections it leaves open end where it ends. */
  private async finish(): Promise<void> {
    this.rows.finish(this.reader.summary.lastT ?? 0);
    await this.stop();
  }

  /** Stops watching: no more looks, the session no longer shows as following, the reader is closed. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.entry.session.following) this.entry.session.followingRecording(false);
    await this.reader.close();
  }
}
