/**
 * One run of the CLI: the engine opened in-process on a workspace, the contract service over it, the followers of
 * the sessions whose timelines are printed, and the end of the run — every timeline printed to its last event,
 * the engine closed (sessions closed, captures flushed), where each capture is, and a summary.
 */
import { rm } from "node:fs/promises";
import type { EventName, EventPayload, SessionInfo } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { Engine } from "../engine/engine.ts";
import { openWorkspaceFolder } from "../settings/workspace-folder.ts";
import { TimelineFollower } from "./follow.ts";
import { KeylogFile } from "./keylog-file.ts";
import { announce, TimelinePrinter, type LineSink, type PrinterOptions } from "./printer.ts";
import { CliService } from "./service.ts";

/** How long the end of a run waits for connections to finish closing before closing the engine anyway (ms). */
const CLOSE_WAIT_MS = 2000;

/** The process's streams, as a run uses them. */
export interface CliIo {
  stdout: LineSink;
  stderr: LineSink;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Called with each event of a followed session, after it is printed. */
export type EventWatcher = (e: TimelineEvent) => void;

/**
 * A run. Opened by main.ts once the command line is read; the command uses `service`, `follow` and `signal`;
 * main.ts calls `finish` whatever happened.
 */
export class CliRun {
  readonly service: CliService;
  private readonly followers = new Map<string, TimelineFollower>();
  /** Sessions whose captures the user keeps: their paths are printed at the end. */
  private readonly kept: string[] = [];
  /** Sessions made only to read a file (a reopened capture's copy): their captures are deleted at the end. */
  private readonly discarded: string[] = [];
  /** `--keylog` files: closed (their last lines written) once the timelines are printed to their end. */
  private readonly keylogs: KeylogFile[] = [];

  private constructor(
    readonly engine: Engine,
    readonly io: CliIo,
    readonly options: PrinterOptions,
    /** Aborted by Ctrl+C or SIGTERM: commands stop waiting and wind down. */
    readonly signal: AbortSignal,
  ) {
    this.service = new CliService(engine);
    engine.setEventSink(<E extends EventName>(name: E, payload: EventPayload<E>) => {
      if (name !== "onTimelineGrew") return;
      for (const { session, count } of payload as EventPayload<"onTimelineGrew">) {
        this.followers.get(session)?.grew(count);
      }
    });
  }

  /**
   * Opens the engine on `workspaceRoot` (absolute; created if missing). Throws InvalidWorkspaceError (a file, not a
   * folder) or WorkspaceUnavailableError (can't be created or written) from openWorkspaceFolder.
   */
  static async open(workspaceRoot: string, io: CliIo, options: PrinterOptions, signal: AbortSignal): Promise<CliRun> {
    const workspace = await openWorkspaceFolder(workspaceRoot);
    // The engine's long reads (imports, opened recordings, decodes, exports) stop between blocks when it aborts.
    return new CliRun(await Engine.open({ workspaceRoot: workspace.root, signal }), io, options, signal);
  }

  get workspaceRoot(): string {
    return this.engine.workspace.root;
  }

  /** A line for people, on stderr (never mixed into stdout's timeline or JSON). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Prints something that is the command's output but not an event (see printer.ts's `announce`). */
  announce(human: string | null, record: Record<string, unknown>): void {
    announce(this.io.stdout, this.options.json, human, record);
  }

  /** The capture of `session` is the user's: it is reported at the end. */
  keepCapture(session: string): void {
    if (!this.kept.includes(session)) this.kept.push(session);
  }

  /**
   * Opens `--keylog <file>` for `command` (see keylog-file.ts); the run closes it at the end and says how many lines
   * it wrote. Throws UsageError when the file can't be opened.
   */
  async openKeylog(command: string, file: string): Promise<KeylogFile> {
    const keylog = await KeylogFile.open(command, file, this.service);
    this.keylogs.push(keylog);
    return keylog;
  }

  /** `session` only served to read a file: its capture is deleted at the end. */
  discardCapture(session: string): void {
    this.discarded.push(session);
  }

  /**
   * Prints `session`'s timeline from its first event, and every event recorded from now on until the run ends;
   * `watch` sees each event after it is printed; `only`, if given, picks the events printed (and watched). Returns
   * the follower (its `drain()` catches up now).
   */
  follow(session: SessionInfo, watch?: EventWatcher, only?: (e: TimelineEvent) => boolean): TimelineFollower {
    const printer = new TimelinePrinter(this.io.stdout, this.options, session.epochMs);
    const follower = new TimelineFollower(this.service, session.id, (events) => {
      const shown = only === undefined ? events : events.filter(only);
      printer.print(shown);
      if (watch !== undefined) for (const e of shown) watch(e);
    });
    this.followers.set(session.id, follower);
    void follower.drain().catch(() => {});
    return follower;
  }

  /** Waits (at most CLOSE_WAIT_MS) until every connection of the kept sessions is closed, so their ends are printed. */
  private async connectionsClosed(): Promise<void> {
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (Date.now() < deadline) {
      const infos = await this.service.call("listSessions", {});
      const open = infos.some((s) => this.kept.includes(s.id) && s.connections.some((c) => c.state !== "closed"));
      if (!open) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Ends the run: closes the kept sessions and waits briefly for their connections to close, prints every followed
   * timeline to its end, writes the key logs' last lines, closes the engine (which closes the sessions and
   * flushes their captures), deletes the discarded captures, and reports each kept one (a line on stderr; in JSON,
   * the summary on stdout, with `error` when the command failed). Returns the exit code: `exitCode`, or 1 if
   * ending failed. Never throws.
   */
  async finish(exitCode: number, error: string | null): Promise<number> {
    const sessions: (SessionInfo & { capture: string })[] = [];
    const discard: string[] = [];
    try {
      // Close first so that the last events (the connections' losses, "closed") are on the timelines we print.
      for (const id of this.kept) await this.service.call("closeSession", { session: id }).catch(() => {});
      await this.connectionsClosed();
      await Promise.all([...this.followers.values()].map((f) => f.drain().catch(() => {})));
      for (const f of this.followers.values()) f.stop();
      for (const keylog of this.keylogs) {
        const failure = await keylog.close();
        if (failure !== null) {
          this.note(`wirescope: writing the key log ${keylog.path} failed: ${failure.message}`);
          exitCode ||= 1;
        } else if (!this.options.json) this.note(`keylog: ${keylog.path} (${keylog.lines} lines)`);
      }
      const infos = await this.service.call("listSessions", {});
      for (const info of infos) {
        if (this.kept.includes(info.id)) sessions.push({ ...info, capture: this.engine.captureFileOf(info.id) });
        if (this.discarded.includes(info.id)) discard.push(this.engine.captureFileOf(info.id));
      }
    } catch (err) {
      this.note(`wirescope: could not read the sessions at the end: ${(err as Error).message}`);
      exitCode ||= 1;
    }
    try {
      await this.engine.close();
    } catch (err) {
      this.note(`wirescope: closing the engine failed: ${(err as Error).message}; captures may be incomplete`);
      exitCode ||= 1;
    }
    for (const file of discard) await rm(file, { force: true }).catch(() => {});
    for (const s of sessions) {
      if (!this.options.json) this.note(`capture: ${s.capture} (${s.events} events)`);
    }
    this.announce(null, {
      kind: "summary",
      exitCode,
      ...(error !== null ? { error } : {}),
      ...(this.keylogs.length > 0 ? { keylogs: this.keylogs.map((k) => ({ file: k.path, lines: k.lines })) } : {}),
      sessions: sessions.map((s) => ({
        id: s.id,
        kind: s.kind,
        name: s.name,
        state: s.state,
        capture: s.capture,
        events: s.events,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        ...(s.error !== undefined ? { error: s.error } : {}),
      })),
    });
    return exitCode;
  }
}
