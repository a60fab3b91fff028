/**
 * The engine: everything the main process hosts, without Electron. It implements the contract's commands as a plain
 * service (WirescopeService) over sessions, recorders, the protocol workspace, the compiler and the sandbox, and
 * emits the contract's events through an EventSink (the adapters' job to deliver).
 *
 * The same engine runs in the Electron main process, in browser mode (`npm run serve`), and in the tests.
 */
import * as fsp from "node:fs/promises";
import type { SourceMapPayload } from "node:module";
import * as path from "node:path";
import { reactor as coreReactor, type IProtocol, type IReactorNet } from "../../core/index.ts";
import type {
  CommandResult,
  Diagnostic,
  EventSink,
  ProtocolFile,
  SessionInfo,
  WirescopeService,
} from "../../preload/contract.ts";
import { MAX_REASON_LENGTH, MAX_SESSIONS, shorten } from "../../preload/limits.ts";
import type { LifecycleEvent, NewTimelineEvent } from "../../preload/timeline.ts";
import { CaptureReader } from "../recording/capture-reader.ts";
import { ChangeNotifier } from "../recording/notifier.ts";
import { monotonicMicros, Recorder } from "../recording/recorder.ts";
import { SandboxHost, type SandboxGroup } from "../sandbox/host.ts";
import type { SandboxEvents } from "../sandbox/sandboxed-protocol.ts";
import { compileProtocol, type CompileResult } from "../workspace/compiler.ts";
import { listTemplates } from "../workspace/templates.ts";
import { capturesDir, exportsDir, PROFILES_FILE } from "../workspace/layout.ts";
import type { WorkspaceChange } from "../workspace/watcher.ts";
import { Workspace } from "../workspace/workspace.ts";
import { exportSession } from "../interchange/export.ts";
import type { SettingsStore } from "../settings/settings.ts";
import { openWorkspaceFolder } from "../settings/workspace-folder.ts";
import { EngineError, TooManySessionsError, UnknownSessionError } from "./errors.ts";
import { CaptureImports } from "./imports.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";
import { copyRecording, locateRecording } from "./reopen-recording.ts";
import { decodeToSession, readConversation } from "./decode-session.ts";
import { replayOf, startReplay } from "./replay.ts";
import { decodeSendData } from "./send-encoding.ts";
import { BadEndpointError } from "./targets.ts";
import { rawProtocols, Session, type ProtocolProvider, type SessionKind } from "./session.ts";

/** How often, at most, the session list is sent to the renderer. */
const SESSIONS_NOTICE_MS = 100;

/** The export a proxy leg runs, when its file has it (else the default export). */
const LEG_EXPORTS = { client: "ClientLeg", server: "ServerLeg" } as const;

export interface EngineOptions {
  /** The workspace folder (protocols, profiles, captures). */
  workspaceRoot: string;
  /** Where events go; set later with `setEventSink` if the adapter starts after the engine. */
  emit?: EventSink;
  reactor?: IReactorNet;
  sandbox?: SandboxHost;
  /**
   * Where the workspace choice is remembered between runs (main/settings/settings.ts); the caller owns it. Without
   * one, `setWorkspace` still switches, for this run only, and the default workspace is `workspaceRoot`.
   */
  settings?: SettingsStore;
  /**
   * Why `workspaceRoot` is not the workspace chosen in Settings (main/settings/start-workspace.ts fell back to the
   * default); `getSettings` reports it until the user chooses a workspace again.
   */
  startProblem?: string | null;
  /**
   * Aborted by the engine's owner to stop the long reads in progress (importCapture, openRecording, decode, replay's
   * read, exportPcapng): they check it between blocks and throw its reason, leaving no partial file or session.
   * The CLI aborts it at Ctrl+C and SIGTERM.
   */
  signal?: AbortSignal;
}

/** What the engine keeps per session. */
interface SessionEntry {
  session: Session;
  recorder: Recorder;
  /** The session's sandbox worker, if it runs a protocol. */
  group: SandboxGroup | null;
  /** The workspace its protocols come from: saving a file of another workspace never reloads them. */
  workspaceRoot: string;
}

/** The last compile of a protocol file. */
interface CompiledFile {
  result: CompileResult;
  /** Hash of the source that compiled (to skip a watcher's echo of our own save). */
  source: string;
}

/** The compiler's source map in the shape node:module's SourceMap (used by the sandbox) expects. */
function sourceMapPayload(result: Extract<CompileResult, { ok: true }>): SourceMapPayload {
  const map = result.sourceMap;
  return {
    file: result.fileName,
    version: map.version,
    sources: map.sources,
    sourcesContent: (map.sourcesContent ?? []).map((c) => c ?? ""),
    names: map.names,
    mappings: map.mappings,
    sourceRoot: "",
  };
}

/** "resp.ts:12:5: Expected ';'" — the first diagnostic, for an error message. */
function firstDiagnostic(diagnostics: readonly Diagnostic[]): string {
  const d = diagnostics[0];
  return d ? `${d.file}:${d.line}:${d.column}: ${d.message}` : "unknown error";
}

/**
 * The engine. Create with `Engine.open`; dispose with `close()`, which closes sessions, flushes captures, releases
 * listeners and stops the sandbox workers.
 */
export class Engine implements WirescopeService {
  /** The workspace in use; `setWorkspace` replaces it (sessions started before keep their code and captures). */
  get workspace(): Workspace {
    return this.currentWorkspace;
  }
  private currentWorkspace: Workspace;
  private readonly settings: SettingsStore | null;
  /** EngineOptions.startProblem, until setWorkspace succeeds. */
  private startProblem: string | null;
  private emit: EventSink;
  private readonly reactor: IReactorNet;
  private readonly sandbox: SandboxHost;
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly compiled = new Map<string, CompiledFile>();
  private readonly notifier: ChangeNotifier;
  /** Captures imported with importCapture, kept for openConversation. */
  private readonly imports = new CaptureImports();
  private nextSession = 1;
  private sessionsTimer: NodeJS.Timeout | null = null;
  private stopWatching: (() => void) | null = null;
  private closed = false;
  /** EngineOptions.signal. */
  private readonly signal: AbortSignal | undefined;

  private constructor(options: EngineOptions) {
    this.signal = options.signal;
    this.currentWorkspace = new Workspace(options.workspaceRoot);
    this.settings = options.settings ?? null;
    this.startProblem = options.startProblem ?? null;
    this.emit = options.emit ?? (() => {});
    this.reactor = options.reactor ?? coreReactor;
    this.sandbox = options.sandbox ?? new SandboxHost();
    this.notifier = new ChangeNotifier(50, (batch) => this.emit("onTimelineGrew", batch));
  }

  /** Opens the workspace (creating its folders) and starts watching it for edits made in other editors. */
  static async open(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    await engine.workspace.init();
    await fsp.mkdir(capturesDir(engine.workspace.root), { recursive: true });
    engine.stopWatching = engine.workspace.watch((changes) => void engine.workspaceChanged(changes));
    return engine;
  }

  /** Where events go from now on (the adapter, once it runs). */
  setEventSink(emit: EventSink): void {
    this.emit = emit;
  }

  // --- sessions ---------------------------------------------------------------------------------------------------

  private entry(id: string): SessionEntry {
    const entry = this.sessions.get(id);
    if (!entry) throw new UnknownSessionError(id);
    return entry;
  }

  /** Sends the session list soon (at most every SESSIONS_NOTICE_MS). */
  private sessionsChanged(): void {
    if (this.sessionsTimer !== null || this.closed) return;
    this.sessionsTimer = setTimeout(() => {
      this.sessionsTimer = null;
      this.emit("onSessionsChanged", this.snapshot());
    }, SESSIONS_NOTICE_MS);
    this.sessionsTimer.unref();
  }

  private snapshot(): SessionInfo[] {
    return [...this.sessions.values()].map((e) => e.session.info());
  }

  /**
   * Creates a session with its recorder and, if it runs a protocol, its sandbox group with the protocol loaded.
   * A protocol that doesn't compile or load fails here, before any socket is opened.
   */
  private async createSession(
    kind: SessionKind,
    name: string | undefined,
    /** Resolved protocol files (see resolveProtocol) the session runs; null for raw legs. */
    files: (string | null)[],
  ): Promise<SessionEntry> {
    if (this.sessions.size >= MAX_SESSIONS) throw new TooManySessionsError(MAX_SESSIONS);
    const id = `s${this.nextSession++}`;
    let group: SandboxGroup | null = null;
    if (files.some((f) => f !== null)) {
      group = this.sandbox.createGroup(id);
      for (const file of new Set(files.filter((f): f is string => f !== null))) {
        await this.loadInto(group, file);
      }
    }
    const file = path.join(
      capturesDir(this.workspace.root),
      `${new Date().toISOString().replace(/[:.]/g, "-")}-${id}.wscap`,
    );
    const recorder = await Recorder.create(
      file,
      { session: id, kind, name: name ?? kind },
      {
        changes: { notifier: this.notifier, session: id },
      },
    );
    const entry: SessionEntry = {
      session: null as unknown as Session,
      recorder,
      group,
      workspaceRoot: this.workspace.root,
    };
    entry.session = new Session({
      id,
      kind,
      name: name ?? `${kind} ${id.slice(1)}`,
      reactor: this.reactor,
      timeline: recorder,
      protocols: group ? this.sandboxedProtocols(entry) : rawProtocols,
      changed: () => this.sessionsChanged(),
    });
    if (group) {
      group.onConnectRequest = (request) =>
        entry.session.openRequested(request, (connection) => this.protocolEvents(entry.session, connection, recorder));
      group.onLog = (e) =>
        recorder.append({ kind: "log", t: monotonicMicros(), conn: 0, level: e.level, text: e.text, fields: e.fields });
      group.onError = (info) => entry.session.note("protocol-error", info.message);
    }
    this.sessions.set(id, entry);
    return entry;
  }

  /**
   * A session that shows recorded traffic (an imported conversation, a decode): a recorder and a Session without
   * sockets, state "closed". The caller fills its timeline (offline.ts's recordConversation) and then calls
   * `sessionsChanged`; its capture file is written like any session's, so it can be exported again.
   */
  private async createOfflineSession(
    kind: "imported" | "decode",
    name: string,
    source: string,
    epochMs: number,
  ): Promise<SessionEntry> {
    const entry = await this.createSession(kind, name, []);
    entry.session.state = "closed";
    entry.session.source = source;
    entry.session.epochMs = epochMs;
    return entry;
  }

  /** Resolves a protocol reference: null (raw), a workspace file, or "template:<id>" (created in the workspace). */
  private async resolveProtocol(ref: string | null | undefined): Promise<string | null> {
    if (ref === null || ref === undefined || ref === "" || ref === "template:raw") return null;
    if (ref.startsWith("template:")) {
      const id = ref.slice("template:".length);
      const file = `${id}.ts`;
      const existing = await this.workspace.list();
      if (!existing.some((f) => f.path === file)) await this.workspace.create(file, id);
      return file;
    }
    return ref;
  }

  /** Compiles `file` (cached by source) and loads it into `group`; throws a "compile-error" with file:line:col. */
  private async loadInto(group: SandboxGroup, file: string): Promise<void> {
    const compiled = await this.compile(file);
    if (!compiled.result.ok) {
      throw new EngineError(
        "compile-error",
        `${file} does not compile: ${firstDiagnostic(compiled.result.diagnostics)}. Fix it and save, then try again.`,
      );
    }
    const loaded = await group.load(file, compiled.result.code, sourceMapPayload(compiled.result));
    if (!loaded.ok) throw new EngineError("protocol-error", `${file} could not be loaded: ${loaded.error.message}`);
  }

  private async compile(file: string): Promise<CompiledFile> {
    const source = await this.workspace.read(file);
    const cached = this.compiled.get(file);
    if (cached && cached.source === source) return cached;
    const result = await compileProtocol(this.workspace.root, file);
    const compiled = { result, source };
    this.compiled.set(file, compiled);
    return compiled;
  }

  /**
   * The provider of a session's sandboxed protocols: each connection gets a SandboxedProtocol of its group, built
   * from the file's default export — or, on a proxy leg, from its `ClientLeg` / `ServerLeg` export when it has one,
   * so that one file can run on both legs and know which way the bytes it receives go (the resp-tap template).
   */
  private sandboxedProtocols(entry: SessionEntry): ProtocolProvider {
    return {
      create: (file: string | null, session: Session, connection: ConnectionRecord): IProtocol => {
        const group = entry.group;
        if (file === null || group === null) return rawProtocols.create(null, session, connection);
        const legExport = session.kind === "proxy" ? LEG_EXPORTS[connection.leg] : null;
        const exportName = legExport !== null && group.exportsOf(file).includes(legExport) ? legExport : null;
        connection.protocol = { file, className: exportName ?? "default", state: "running" };
        const events = this.protocolEvents(session, connection, entry.recorder);
        return group.attach(exportName === null ? { moduleKey: file } : { moduleKey: file, exportName }, events);
      },
    };
  }

  /** Puts what the sandbox says about one connection on its timeline and its row. */
  private protocolEvents(session: Session, connection: ConnectionRecord, recorder: Recorder): SandboxEvents {
    const note = (event: LifecycleEvent, detail: string) => session.note(event, detail, connection.conn);
    return {
      onLog: (e) => {
        const event: NewTimelineEvent = {
          kind: "log",
          t: monotonicMicros(),
          conn: connection.conn,
          level: e.level,
          text: e.text,
          fields: e.fields,
        };
        recorder.append(event);
      },
      onError: (info) => {
        const where = info.source ? ` at ${info.source.file}:${info.source.line}:${info.source.column}` : "";
        note("protocol-error", `${info.callback}: ${info.message}${where}`);
      },
      onHalted: (reason) => {
        // The row is in every session list; the timeline, read by range, keeps the whole reason.
        const halted = shorten(reason, MAX_REASON_LENGTH);
        if (connection.protocol) connection.protocol = { ...connection.protocol, state: "halted", halted };
        note("protocol-halted", reason);
      },
      onResumed: () => {
        if (connection.protocol)
          connection.protocol = {
            file: connection.protocol.file,
            className: connection.protocol.className,
            state: "running",
          };
        note("protocol-loaded", "resumed on the new code");
      },
      onReloaded: () => note("protocol-reloaded", connection.protocol?.file ?? ""),
    };
  }

  async listSessions(): Promise<SessionInfo[]> {
    return this.snapshot();
  }

  async connect(args: Parameters<WirescopeService["connect"]>[0]): Promise<SessionInfo> {
    const protocol = await this.resolveProtocol(args.protocol);
    const entry = await this.createSession("client", args.name, [protocol]);
    try {
      await entry.session.startClient(args.target, protocol);
    } catch (err) {
      // A description that doesn't parse never started anything: leave nothing behind. A failed attempt (refused,
      // timed out) stays, with its timeline, so the user sees what happened and can reconnect.
      if (err instanceof BadEndpointError) await this.dropSession(entry);
      throw err;
    } finally {
      this.sessionsChanged();
    }
    return entry.session.info();
  }

  async listen(args: Parameters<WirescopeService["listen"]>[0]): Promise<SessionInfo> {
    const protocol = await this.resolveProtocol(args.protocol);
    const entry = await this.createSession("listener", args.name, [protocol]);
    try {
      await entry.session.startListener(args.target, protocol);
    } catch (err) {
      await this.dropSession(entry);
      throw err;
    }
    this.sessionsChanged();
    return entry.session.info();
  }

  async proxy(args: Parameters<WirescopeService["proxy"]>[0]): Promise<SessionInfo> {
    const clientProtocol = await this.resolveProtocol(args.clientProtocol);
    const serverProtocol = await this.resolveProtocol(args.serverProtocol);
    const entry = await this.createSession("proxy", args.name, [clientProtocol, serverProtocol]);
    try {
      await entry.session.startProxy(args.listen, args.upstream, clientProtocol, serverProtocol);
    } catch (err) {
      await this.dropSession(entry);
      throw err;
    }
    this.sessionsChanged();
    return entry.session.info();
  }

  /** A session that never started (a bad listen target, a port in use) leaves nothing behind. */
  private async dropSession(entry: SessionEntry): Promise<void> {
    this.sessions.delete(entry.session.id);
    await entry.recorder.close();
    await fsp.rm(entry.recorder.file, { force: true });
    await entry.group?.dispose();
  }

  async reconnect(args: { session: string }): Promise<SessionInfo> {
    const { session } = this.entry(args.session);
    try {
      await session.connectClient();
    } finally {
      this.sessionsChanged();
    }
    return session.info();
  }

  async closeSession(args: { session: string }): Promise<Record<string, never>> {
    await this.entry(args.session).session.close();
    this.sessionsChanged();
    return {};
  }

  async removeSession(args: { session: string }): Promise<Record<string, never>> {
    const entry = this.entry(args.session);
    await entry.session.close();
    this.sessions.delete(args.session);
    await entry.recorder.close();
    await entry.group?.dispose();
    this.sessionsChanged();
    return {};
  }

  async closeConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.entry(args.session).session.closeConnection(args.conn);
    return {};
  }

  async abortConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.entry(args.session).session.abortConnection(args.conn);
    return {};
  }

  async halfCloseConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.entry(args.session).session.halfCloseConnection(args.conn);
    return {};
  }

  async send(args: Parameters<WirescopeService["send"]>[0]): Promise<{ bytes: number }> {
    const { session } = this.entry(args.session);
    const data = decodeSendData(args.data, args.encoding);
    session.send(args.conn, data);
    return { bytes: data.byteLength };
  }

  /**
   * Opens a Wirescope capture file as an "imported" session: its events copied onto the session's own new capture,
   * its connections rebuilt (reopen-recording.ts). The file is only read. Throws "recording-not-found", or the
   * CaptureError ("not-a-capture", "newer-version", "corrupt") naming the file.
   */
  async openRecording(args: Parameters<WirescopeService["openRecording"]>[0]): Promise<SessionInfo> {
    const file = await locateRecording(args.path, this.workspace.root);
    const reader = await CaptureReader.open(file);
    try {
      const meta = reader.meta;
      const name = typeof meta.name === "string" ? meta.name : path.basename(file);
      const entry = await this.createOfflineSession("imported", name, path.basename(file), meta.timeOrigin);
      entry.session.target = file;
      try {
        await copyRecording(reader, entry.session, entry.recorder, this.signal);
      } catch (err) {
        await this.dropSession(entry);
        throw err;
      }
      this.sessionsChanged();
      return entry.session.info();
    } finally {
      await reader.close();
    }
  }

  /**
   * The capture file a session records to (for the CLI, which prints where it is). Not part of the contract: the
   * app shows captures through the workspace. Throws UnknownSessionError.
   */
  captureFileOf(session: string): string {
    return this.entry(session).recorder.file;
  }

  async readTimeline(args: { session: string; from: number; count: number }): Promise<CommandResult<"readTimeline">> {
    const { recorder } = this.entry(args.session);
    const events = await recorder.read(args.from, args.count);
    return { events, total: recorder.count };
  }

  // --- protocols --------------------------------------------------------------------------------------------------

  private liveConnections(file: string): number {
    let n = 0;
    for (const { session } of this.sessions.values()) {
      for (const c of session.connections.values()) if (c.state !== "closed" && c.protocol?.file === file) n += 1;
    }
    return n;
  }

  async listProtocols(): Promise<ProtocolFile[]> {
    const files = await this.workspace.list();
    return files.map((f) => {
      const compiled = this.compiled.get(f.path);
      return {
        path: f.path,
        size: f.size,
        mtimeMs: f.mtimeMs,
        diagnostics: compiled && !compiled.result.ok ? compiled.result.diagnostics : [],
        liveConnections: this.liveConnections(f.path),
      };
    });
  }

  async readProtocol(args: { path: string }): Promise<{ content: string }> {
    return { content: await this.workspace.read(args.path) };
  }

  /**
   * Saves atomically, compiles, and hot-loads the new code into every session running this file (or a file that
   * imports it). A file that doesn't compile is saved (the user's text is never lost) but leaves the old code
   * running; its diagnostics are returned.
   */
  async saveProtocol(args: {
    path: string;
    content: string;
  }): Promise<{ diagnostics: Diagnostic[]; reloaded: number }> {
    await this.workspace.write(args.path, args.content);
    const result = await this.reloadFile(args.path);
    void this.emitProtocols();
    return result;
  }

  /** Recompiles `file` and every compiled file depending on it, and reloads them where they run. */
  private async reloadFile(file: string): Promise<{ diagnostics: Diagnostic[]; reloaded: number }> {
    const affected = [file];
    for (const [other, compiled] of this.compiled) {
      if (other !== file && compiled.result.ok && compiled.result.inputs.includes(file)) affected.push(other);
    }
    let diagnostics: Diagnostic[] = [];
    let reloaded = 0;
    for (const target of affected) {
      // A dependent's own text didn't change, but what it bundles did: drop its cached build.
      if (target !== file) this.compiled.delete(target);
      let compiled: CompiledFile;
      try {
        compiled = await this.compile(target);
      } catch {
        continue; // deleted meanwhile
      }
      if (!compiled.result.ok) {
        if (target === file) diagnostics = compiled.result.diagnostics;
        continue;
      }
      for (const entry of this.sessions.values()) {
        if (entry.group === null || !this.groupRuns(entry, target)) continue;
        const loaded = await entry.group.load(target, compiled.result.code, sourceMapPayload(compiled.result));
        if (loaded.ok)
          reloaded += [...entry.session.connections.values()].filter(
            (c) => c.state !== "closed" && c.protocol?.file === target,
          ).length;
        else entry.session.note("protocol-error", `${target} could not be reloaded: ${loaded.error.message}`);
      }
    }
    return { diagnostics, reloaded };
  }

  private groupRuns(entry: SessionEntry, file: string): boolean {
    const s = entry.session;
    if (entry.workspaceRoot !== this.workspace.root) return false;
    return s.protocol === file || s.serverProtocol === file;
  }

  /** Another editor saved, created or deleted files: recompile and reload what changed. */
  private async workspaceChanged(changes: WorkspaceChange[]): Promise<void> {
    for (const change of changes) {
      if (change.path === PROFILES_FILE || change.hash === null) continue;
      const cached = this.compiled.get(change.path);
      if (cached) {
        const source = await this.workspace.read(change.path).catch(() => null);
        if (source === cached.source) continue; // our own save, already reloaded
      }
      await this.reloadFile(change.path).catch(() => {});
    }
    await this.emitProtocols();
  }

  private async emitProtocols(): Promise<void> {
    if (this.closed) return;
    this.emit("onProtocolsChanged", await this.listProtocols());
  }

  async createProtocol(args: { path: string; template: string }): Promise<ProtocolFile> {
    const written = await this.workspace.create(args.path, args.template);
    const compiled = await this.compile(written.path);
    void this.emitProtocols();
    return {
      path: written.path,
      size: written.size,
      mtimeMs: written.mtimeMs,
      diagnostics: compiled.result.ok ? [] : compiled.result.diagnostics,
      liveConnections: 0,
    };
  }

  async deleteProtocol(args: { path: string }): Promise<Record<string, never>> {
    await this.workspace.delete(args.path);
    this.compiled.delete(args.path);
    void this.emitProtocols();
    return {};
  }

  async listTemplates(): Promise<CommandResult<"listTemplates">> {
    return listTemplates().map(({ id, title, description }) => ({ id, title, description }));
  }

  async listProfiles(): Promise<CommandResult<"listProfiles">> {
    return this.workspace.listProfiles();
  }

  async saveProfile(args: Parameters<WirescopeService["saveProfile"]>[0]): Promise<Record<string, never>> {
    await this.workspace.saveProfile(args);
    return {};
  }

  async deleteProfile(args: { name: string }): Promise<Record<string, never>> {
    await this.workspace.deleteProfile(args.name);
    return {};
  }

  // --- settings ---------------------------------------------------------------------------------------------------

  async getSettings(): Promise<CommandResult<"getSettings">> {
    return {
      workspace: this.workspace.root,
      defaultWorkspace: this.settings?.defaultWorkspace ?? this.workspace.root,
      ...(this.startProblem !== null ? { problem: this.startProblem } : {}),
    };
  }

  /**
   * Switches to another workspace folder, live (main/settings/workspace-folder.ts prepares it, creating it when
   * missing): the watcher moves, the protocol list is sent again, new sessions record into its captures/. Running
   * sessions keep the code they run and their captures where they are. The choice is remembered (settings store)
   * before the engine lets go of its workspace: if it cannot be saved, the engine stays where it was.
   */
  async setWorkspace(args: Parameters<WirescopeService["setWorkspace"]>[0]): Promise<CommandResult<"setWorkspace">> {
    const next = await openWorkspaceFolder(args.path);
    await this.settings?.rememberWorkspace(next.root);
    this.startProblem = null;
    if (next.root !== this.workspace.root && !this.closed) {
      this.stopWatching?.();
      this.currentWorkspace = next;
      this.compiled.clear();
      this.stopWatching = next.watch((changes) => void this.workspaceChanged(changes));
      await this.emitProtocols();
    }
    return this.getSettings();
  }

  /**
   * Writes the session (or connection `conn`) as a new pcapng file in `<workspace>/exports/` (interchange/export.ts);
   * with `includeData`, answers the file's bytes too. Unknown sessions and connections get their usual errors.
   */
  async exportPcapng(args: Parameters<WirescopeService["exportPcapng"]>[0]): Promise<CommandResult<"exportPcapng">> {
    const { session, recorder } = this.entry(args.session);
    if (args.conn !== undefined) session.connection(args.conn);
    const folder = exportsDir(this.workspace.root);
    const { skipped, ...written } = await exportSession(
      { info: session.info(), timeline: recorder },
      folder,
      args.conn,
      this.signal,
    );
    return {
      ...written,
      ...(skipped.length > 0 ? { skipped } : {}),
      ...(args.includeData ? { data: await fsp.readFile(written.path) } : {}),
    };
  }

  /** Reads a pcap/pcapng file (bytes, or a path from the workspace) and keeps its conversations (imports.ts). */
  async importCapture(args: Parameters<WirescopeService["importCapture"]>[0]): Promise<CommandResult<"importCapture">> {
    return this.imports.importCapture(args, this.workspace.root, this.signal);
  }

  /** Opens a conversation of an imported capture as an "imported" session. */
  async openConversation(
    args: Parameters<WirescopeService["openConversation"]>[0],
  ): Promise<CommandResult<"openConversation">> {
    const info = await this.imports.openConversation(args, (name, source, epochMs) =>
      this.createOfflineSession("imported", name, source, epochMs),
    );
    this.sessionsChanged();
    return info;
  }

  /** Runs a protocol over a recorded connection as a passive decoder, into a new "decode" session (decode.ts). */
  async decode(args: Parameters<WirescopeService["decode"]>[0]): Promise<CommandResult<"decode">> {
    const from = this.entry(args.session);
    const conversation = await readConversation(from.session, from.recorder, args.conn, { signal: this.signal });
    const file = await this.resolveProtocol(args.protocol);
    if (file === null)
      throw new EngineError("no-protocol", "Decoding needs a protocol file: choose one to decode with.");
    const source = `${from.session.name}, connection ${args.conn}, decoded with ${file}`;
    let created: SessionEntry | null = null;
    try {
      const { session, resplit } = await decodeToSession(
        {
          newGroup: async () => {
            const group = this.sandbox.createGroup(`decode of ${source}`, { virtualClock: true, locateHangs: true });
            await this.loadInto(group, file).catch(async (err: unknown) => {
              await group.dispose();
              throw err;
            });
            return group;
          },
          createSession: async () => {
            created = await this.createOfflineSession(
              "decode",
              args.name ?? `${file} over ${from.session.name}`,
              source,
              conversation.epochMs,
            );
            created.session.protocol = file;
            return { session: created.session, timeline: created.recorder };
          },
        },
        conversation,
        { file, side: args.side, resplit: args.resplit, signal: this.signal },
      );
      return resplit === undefined ? { session: session.info() } : { session: session.info(), resplit };
    } catch (err) {
      // Stopped by the owner during the re-split runs: the decode is not done, so its session is not left behind.
      if (created !== null && this.signal?.aborted) await this.dropSession(created);
      throw err;
    } finally {
      if (created !== null) this.sessionsChanged();
    }
  }

  /** Sends one side of a recorded connection again, in a new live "replay" session (replay.ts). */
  async replay(args: Parameters<WirescopeService["replay"]>[0]): Promise<CommandResult<"replay">> {
    const from = this.entry(args.session);
    const conversation = await readConversation(from.session, from.recorder, args.conn, { signal: this.signal });
    const entry = await this.createSession("replay", args.name ?? `replay of ${from.session.name}`, []);
    entry.session.source = `${from.session.name}, connection ${args.conn}, ${args.side} side`;
    try {
      await startReplay(entry.session, conversation, args, this.reactor);
    } catch (err) {
      await this.dropSession(entry);
      throw err;
    } finally {
      this.sessionsChanged();
    }
    return entry.session.info();
  }

  /** The comparison of a replay session's answers with the recorded ones, so far. */
  async replayReport(args: Parameters<WirescopeService["replayReport"]>[0]): Promise<CommandResult<"replayReport">> {
    const driver = replayOf(this.entry(args.session).session);
    if (driver === undefined) {
      throw new EngineError("not-a-replay", `Session '${args.session}' is not a replay: choose a replay session.`);
    }
    return driver.report();
  }

  /** Graceful stop: sessions closed, captures flushed, listeners released, workers stopped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching?.();
    if (this.sessionsTimer) clearTimeout(this.sessionsTimer);
    for (const entry of this.sessions.values()) {
      await entry.session.close().catch(() => {});
      await entry.recorder.close().catch(() => {});
    }
    this.notifier.dispose();
    await this.sandbox.dispose();
  }
}
