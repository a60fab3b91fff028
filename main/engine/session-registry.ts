/**
 * The session registry: every session the engine has, with its recorder and sandbox group. It creates them (ids
 * "s1", "s2"...; the capture file in the workspace's captures folder), finds them by id, lists them, tells the
 * renderer the list changed (throttled), and disposes of them — one way, whether a session is dropped before it
 * started, removed by the user, or closed with the engine.
 */
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { IReactorNet } from "../../core/index.ts";
import type { ConnectionInfo, EventSink, SessionInfo } from "../../preload/contract.ts";
import { ChangeNotifier } from "../recording/notifier.ts";
import { Recorder } from "../recording/recorder.ts";
import type { SandboxGroup } from "../sandbox/host.ts";
import type { SandboxHost } from "../sandbox/sandbox-host.ts";
import { capturesDir } from "../workspace/layout.ts";
import { MAX_SESSIONS } from "../../preload/limits.ts";
import { TooManySessionsError, UnknownSessionError } from "./errors.ts";
import { thisWriter } from "./capture-writer-id.ts";
import type { ProtocolLibrary, RunningProtocols } from "./protocol-library.ts";
import { legsOf, PairingTimeline } from "./message-pairing.ts";
import { sandboxedProtocols, wireGroup } from "./sandboxed-protocols.ts";
import { ProcessSession } from "./process-session.ts";
import { RecordedEvents } from "./recorded-events.ts";
import { rawProtocols, Session, type SessionKind, type SessionOptions } from "./session.ts";
import type { SessionTLSContext } from "./tls-stage.ts";

/** How often, at most, the session list is sent to the renderer. */
const SESSIONS_NOTICE_MS = 100;

/** How often, at most, the renderer is told that timelines grew. */
const TIMELINE_NOTICE_MS = 50;

/** What the registry keeps per session. */
export interface SessionEntry extends RunningProtocols {
  readonly recorder: Recorder;
  /** The session's events as they are recorded (everything its Session appends), for watchers in-process. */
  readonly recorded: RecordedEvents;
}

/** What a session shows from birth rather than from starting (see SessionOptions): where its traffic came from. */
export type SessionShown = Pick<SessionOptions, "source" | "epochMs" | "target" | "protocol" | "recordedKind">;

/** What an offline session (imported, decode) shows. */
export interface OfflineShown extends SessionShown {
  name: string;
  source: string;
  epochMs: number;
}

export interface SessionRegistryOptions {
  reactor: IReactorNet;
  sandbox: SandboxHost;
  /** Compiles and loads the protocols a session runs; its workspace is where new captures go. */
  library: ProtocolLibrary;
  /** Where onSessionsChanged and onTimelineGrew go (the engine's current sink). */
  emit: EventSink;
  /** The TLS of sessions without TLS settings of their own (session-tls.ts's defaultTLSContext). */
  tls?: SessionTLSContext;
}

/** The engine's sessions. Owned by the engine, which calls `close()` when it closes. */
export class SessionRegistry {
  readonly #sessions = new Map<string, SessionEntry>();
  readonly #options: SessionRegistryOptions;
  /** Batches the recorders' "timeline grew" notices. */
  readonly #notifier: ChangeNotifier;
  #nextSession = 1;
  /** Creates under way: each holds a slot under MAX_SESSIONS from its check until its session is in the map. */
  #creating = 0;
  #noticeTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: SessionRegistryOptions) {
    this.#options = options;
    this.#notifier = new ChangeNotifier(TIMELINE_NOTICE_MS, (batch) => options.emit("onTimelineGrew", batch));
  }

  /** The session `id`; throws UnknownSessionError. */
  get(id: string): SessionEntry {
    const entry = this.#sessions.get(id);
    if (!entry) throw new UnknownSessionError(id);
    return entry;
  }

  /** Every session, oldest first. */
  entries(): IterableIterator<SessionEntry> {
    return this.#sessions.values();
  }

  /** What the session list shows now. */
  snapshot(): SessionInfo[] {
    return [...this.#sessions.values()].map((e) => e.session.info());
  }

  /**
   * Every connection of session `id`, in the order they were made: not only the MAX_LISTED_CONNECTIONS (limits.ts)
   * its SessionInfo lists for the session list. Throws UnknownSessionError.
   */
  connectionsOf(id: string): ConnectionInfo[] {
    return [...this.get(id).session.connections.values()].map((record) => record.info());
  }

  /** Sends the session list soon (at most every SESSIONS_NOTICE_MS); nothing once the registry closed. */
  changed(): void {
    if (this.#noticeTimer !== null || this.#closed) return;
    this.#noticeTimer = setTimeout(() => {
      this.#noticeTimer = null;
      this.#options.emit("onSessionsChanged", this.snapshot());
    }, SESSIONS_NOTICE_MS);
    this.#noticeTimer.unref();
  }

  /**
   * Creates a session with its recorder and, if it runs a protocol, its sandbox group with the protocol loaded.
   * A protocol that doesn't compile or load fails here, before any socket is opened; so does a session past
   * MAX_SESSIONS (TooManySessionsError), creates still under way counted: each holds its slot from this check until
   * its session is listed, or until it fails. `files` are the resolved protocol files the session runs
   * (ProtocolLibrary.resolve), null for raw legs.
   */
  async create(
    kind: SessionKind,
    name: string | undefined,
    files: (string | null)[],
    shown: SessionShown = {},
  ): Promise<SessionEntry> {
    if (this.#sessions.size + this.#creating >= MAX_SESSIONS) throw new TooManySessionsError(MAX_SESSIONS);
    // The slot is taken now, not when the session is set: concurrent creates awaiting below count against it too.
    this.#creating++;
    try {
      return await this.#make(kind, name, files, shown);
    } finally {
      this.#creating--;
    }
  }

  /** The steps of `create` once its slot is taken: the session is in the map when this resolves. */
  async #make(
    kind: SessionKind,
    name: string | undefined,
    files: (string | null)[],
    shown: SessionShown,
  ): Promise<SessionEntry> {
    const { library, reactor } = this.#options;
    const id = `s${this.#nextSession++}`;
    const group = await this.#loadedGroup(id, files);
    const workspaceRoot = library.workspace.root;
    const file = path.join(capturesDir(workspaceRoot), `${new Date().toISOString().replace(/[:.]/g, "-")}-${id}.wscap`);
    let recorder: Recorder;
    try {
      recorder = await Recorder.create(
        file,
        {
          session: id,
          kind,
          name: name ?? kind,
          ...(shown.recordedKind !== undefined ? { recordedKind: shown.recordedKind } : {}),
          ...thisWriter(),
        },
        { changes: { notifier: this.#notifier, session: id } },
      );
    } catch (err) {
      await group?.dispose();
      throw err;
    }
    const recorded = new RecordedEvents(recorder);
    const timeline = new PairingTimeline(recorded, (conn) => legsOf(session, conn));
    const session: Session = new (kind === "process" ? ProcessSession : Session)({
      source: shown.source,
      epochMs: shown.epochMs,
      target: shown.target,
      protocol: shown.protocol,
      recordedKind: shown.recordedKind,
      id,
      kind,
      name: name ?? `${kind} ${id.slice(1)}`,
      reactor,
      timeline,
      protocols: group ? sandboxedProtocols(group) : rawProtocols,
      changed: () => this.changed(),
      ...(this.#options.tls !== undefined ? { tls: this.#options.tls } : {}),
    });
    if (group) wireGroup(group, session);
    const entry: SessionEntry = { session, recorder, recorded, group, workspaceRoot };
    this.#sessions.set(id, entry);
    return entry;
  }

  /**
   * Session `id`'s sandbox group with its protocol `files` loaded, or null when it runs none (raw legs only). A file
   * that doesn't compile or load stops the group again (its worker with it) before the error is thrown.
   */
  async #loadedGroup(id: string, files: (string | null)[]): Promise<SandboxGroup | null> {
    const protocols = new Set(files.filter((f): f is string => f !== null));
    if (protocols.size === 0) return null;
    const group = this.#options.sandbox.createGroup(id);
    try {
      for (const file of protocols) await this.#options.library.loadInto(group, file);
    } catch (err) {
      await group.dispose();
      throw err;
    }
    return group;
  }

  /**
   * A session that shows recorded traffic (an imported conversation, a decode): a recorder and a Session without
   * sockets, born closed. The caller fills its timeline (offline.ts's recordConversation) and then calls
   * `changed`; its capture file is written like any session's, so it can be exported again.
   */
  async createOffline(kind: "imported" | "decode", shown: OfflineShown): Promise<SessionEntry> {
    return this.create(kind, shown.name, [], shown);
  }

  /** A session that never started (a bad target, a port in use, a stopped decode) leaves nothing behind. */
  async drop(entry: SessionEntry): Promise<void> {
    await this.dispose(entry, { keepCapture: false });
  }

  /** Removes session `id` from the list: closed, its capture kept. Throws UnknownSessionError. */
  async remove(id: string): Promise<void> {
    await this.dispose(this.get(id), { keepCapture: true });
    this.changed();
  }

  /** Graceful stop of every session: closed, captures flushed, groups stopped; no notice is sent afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#noticeTimer) clearTimeout(this.#noticeTimer);
    for (const entry of [...this.#sessions.values()]) {
      await this.dispose(entry, { keepCapture: true }).catch(() => {});
    }
    this.#notifier.dispose();
  }

  /**
   * The one way a session goes: out of the list, its sockets closed, its recorder flushed and closed (its capture
   * deleted unless kept), its sandbox group stopped. Each step runs even if the one before failed; the first
   * failure is thrown at the end.
   */
  private async dispose(entry: SessionEntry, how: { keepCapture: boolean }): Promise<void> {
    this.#sessions.delete(entry.session.id);
    try {
      await entry.session.close();
    } finally {
      try {
        await entry.recorder.close();
        if (!how.keepCapture) await fsp.rm(entry.recorder.file, { force: true });
      } finally {
        await entry.group?.dispose();
      }
    }
  }
}
