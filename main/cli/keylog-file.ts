/**
 * `--keylog <file>`: the TLS session secrets of a session's connections appended to a file as they come, in the
 * SSLKEYLOGFILE format (https://www.ietf.org/archive/id/draft-ietf-tls-keylogfile-01.html) that Wireshark reads to
 * decrypt a capture of the same traffic. The engine keeps each connection's key log lines (exportTLSKeys); this
 * asks for them when the timeline shows a handshake end (`tls` or `tls-failed`) and when the connection is lost, and
 * appends the lines it has not written yet. The file holds secrets: it is created with mode 0600 and set to it.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { helpHint } from "./args.ts";
import { UsageError } from "./errors.ts";
import type { CliService } from "./service.ts";

/** Only its owner may read or write a key log. */
const KEYLOG_MODE = 0o600;

/**
 * An open key log file. Opened by the command before its session starts, fed every event of the session's timeline
 * (`saw`), and closed by the run's end (`close`, after the last events were seen), which waits for pending writes.
 */
export class KeylogFile {
  /** Lines written so far, per connection: exportTLSKeys returns all of a connection's lines, oldest first. */
  private readonly written = new Map<number, number>();
  /** Writes are chained so that lines go out in the order they were asked for, one export at a time. */
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private appended = 0;
  /** The session whose keys are written, once it has started (`follows`). */
  private session: string | null = null;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly service: CliService,
  ) {}

  /**
   * Opens `file` for appending (created with mode 0600; an existing one is set to 0600), before the session starts,
   * so that a path that can't be written fails the command first. Throws UsageError naming the file.
   */
  static async open(command: string, file: string, service: CliService): Promise<KeylogFile> {
    let handle: FileHandle | null = null;
    try {
      handle = await open(file, "a", KEYLOG_MODE);
      await handle.chmod(KEYLOG_MODE);
      return new KeylogFile(file, handle, service);
    } catch (err) {
      await handle?.close().catch(() => {});
      throw new UsageError(`${command}: --keylog ${file}: ${(err as Error).message}`, helpHint(command));
    }
  }

  /** How many lines this run appended. */
  get lines(): number {
    return this.appended;
  }

  /** The session has started: its events are passed to `saw` from now on. */
  follows(session: string): void {
    this.session = session;
  }

  /** One event of the session's timeline: at a handshake's end or a connection's loss, its new lines are appended. */
  saw(e: TimelineEvent): void {
    if (e.kind !== "lifecycle" || e.conn === 0) return;
    const ends = e.event === "tls" || e.event === "tls-failed";
    // A lost connection may have logged more after its handshake (a TLS 1.3 key update): only for TLS ones.
    if (ends || (e.event === "lost" && this.written.has(e.conn))) this.append(e.conn);
  }

  private append(conn: number): void {
    const session = this.session;
    if (session === null) return;
    if (!this.written.has(conn)) this.written.set(conn, 0);
    this.queue = this.queue.then(async () => {
      if (this.failure !== null) return;
      try {
        const { text } = await this.service.call("exportTLSKeys", { session, conn });
        const all = text.split("\n").filter((line) => line !== "");
        const fresh = all.slice(this.written.get(conn) ?? 0);
        if (fresh.length === 0) return;
        await this.handle.appendFile(fresh.join("\n") + "\n");
        this.written.set(conn, all.length);
        this.appended += fresh.length;
      } catch (err) {
        this.failure = err as Error;
      }
    });
  }

  /**
   * Waits for the pending writes and closes the file. Resolves with why writing failed (a full disk, a session the
   * engine no longer knows), or null when every line asked for was written.
   */
  async close(): Promise<Error | null> {
    await this.queue;
    await this.handle.close().catch((err: Error) => (this.failure ??= err));
    return this.failure;
  }
}
