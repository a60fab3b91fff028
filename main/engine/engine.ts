/**
 * The engine: everything the main process hosts, without Electron. It implements the contract's commands as a plain
 * service (WirescopeService): each command is mapped onto the session registry (session-registry.ts), the protocol
 * library (protocol-library.ts: compile cache, hot reload, the workspace and its watcher), or the offline features
 * (imports, decode, replay, export; the long ones, with their progress and cancel, in long-commands.ts). It emits
 * the contract's events through an EventSink (the adapters' job to deliver).
 *
 * The same engine runs in the Electron main process, in browser mode (`npm run serve`), and in the tests.
 */
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { reactor as coreReactor, type IReactorNet } from "../../core/index.ts";
import type {
  CommandResult,
  ConnectionInfo,
  Diagnostic,
  EventSink,
  ProtocolFile,
  SessionInfo,
  WirescopeService,
} from "../../preload/contract.ts";
import { SandboxHost } from "../sandbox/sandbox-host.ts";
import { listTemplates } from "../workspace/templates.ts";
import { capturesDir, exportsDir } from "../workspace/layout.ts";
import { Workspace } from "../workspace/workspace.ts";
import { exportCapture } from "../interchange/export-capture.ts";
import { settingsDir, type SettingsStore } from "../settings/settings.ts";
import { CA_CERT_FILE, CAUnreadableError, CertificateAuthority } from "../tls/ca.ts";
import { openWorkspaceFolder } from "../settings/workspace-folder.ts";
import { parseFilter } from "../../preload/filter-language.ts";
import { BadFilterError, EngineError } from "./errors.ts";
import { findTimeline } from "./find-timeline.ts";
import { readPreviews } from "./timeline-preview.ts";
import { ioGraph } from "./io-graph.ts";
import { locateSpans, messageAt } from "./message-bytes.ts";
import { CaptureImports } from "./imports.ts";
import { ProtocolLibrary } from "./protocol-library.ts";
import { processSession, ProcessSession } from "./process-session.ts";
import type { ProcessTap } from "./recording-process-protocol.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";
import type { RecordedListener } from "./recorded-events.ts";
import { processProtocol } from "./sandboxed-protocols.ts";
import { reopenRecording } from "./reopen-recording.ts";
import { readConversation } from "./decode-session.ts";
import { LongCommands } from "./long-commands.ts";
import { replayOf, startReplay } from "./replay.ts";
import { decodeSendData } from "./send-encoding.ts";
import { SessionRegistry, type SessionEntry } from "./session-registry.ts";
import { defaultTLSContext, sessionTLSContext, type EngineTLS } from "./session-tls.ts";
import { BadEndpointError } from "./targets.ts";
import { exportTLSKeys } from "./tls-keys.ts";
import { TLS_HANDSHAKE_TIMEOUT_MS } from "./tls-stage.ts";

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
  /**
   * The settings folder, where Wirescope's CA is kept (main/tls/ca.ts); default settingsDir(). Tests pass a
   * temporary folder.
   */
  configDir?: string;
  /** How long a TLS handshake may take, the ClientHello included (TLS_HANDSHAKE_TIMEOUT_MS unless given). */
  tlsHandshakeTimeoutMs?: number;
  /** PEM of CAs trusted for upstream (server) certificates besides the system's: an organisation's own CA. */
  trustedCAs?: string;
}

/**
 * The engine. Create with `Engine.open`; dispose with `close()`, which closes sessions, flushes captures, releases
 * listeners and stops the sandbox workers.
 */
export class Engine implements WirescopeService {
  /** The workspace in use; `setWorkspace` replaces it (sessions started before keep their code and captures). */
  get workspace(): Workspace {
    return this.library.workspace;
  }
  private readonly settings: SettingsStore | null;
  /** EngineOptions.startProblem, until setWorkspace succeeds. */
  private startProblem: string | null;
  private emit: EventSink;
  private readonly reactor: IReactorNet;
  private readonly sandbox: SandboxHost;
  private readonly library: ProtocolLibrary;
  private readonly sessions: SessionRegistry;
  /** Captures imported with importCapture, kept for openConversation. */
  private readonly imports = new CaptureImports();
  private closed = false;
  /** EngineOptions.signal. */
  private readonly signal: AbortSignal | undefined;
  /** exportPcapng, importCapture and decode, with the operations they run under: their progress and `cancel`. */
  private readonly longCommands: LongCommands;
  /** EngineOptions.configDir. */
  private readonly configDir: string;
  /** The CA being opened or open (ca()); null before the first call and after a failed open. */
  private opening: Promise<CertificateAuthority> | null = null;
  /** What every session's TLS gets from the engine. */
  private readonly tls: EngineTLS;

  private constructor(options: EngineOptions) {
    this.signal = options.signal;
    this.configDir = options.configDir ?? settingsDir();
    this.tls = {
      ca: () => this.ca(),
      caPath: () => path.join(this.configDir, CA_CERT_FILE),
      handshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS,
      trustedCAs: options.trustedCAs ?? null,
    };
    this.settings = options.settings ?? null;
    this.startProblem = options.startProblem ?? null;
    this.emit = options.emit ?? (() => {});
    this.reactor = options.reactor ?? coreReactor;
    this.sandbox = options.sandbox ?? new SandboxHost();
    // Forwards to the sink in use at the time of each event: setEventSink may replace it later.
    const emit: EventSink = (name, payload) => this.emit(name, payload);
    this.library = new ProtocolLibrary(new Workspace(options.workspaceRoot), {
      emit,
      running: () => this.sessions.entries(),
    });
    this.sessions = new SessionRegistry({
      reactor: this.reactor,
      sandbox: this.sandbox,
      library: this.library,
      emit,
      tls: defaultTLSContext(this.tls),
    });
    this.longCommands = new LongCommands({
      emit,
      signal: this.signal,
      sessions: this.sessions,
      library: this.library,
      sandbox: this.sandbox,
      imports: this.imports,
    });
  }

  /** Opens the workspace (creating its folders) and starts watching it for edits made in other editors. */
  static async open(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    await engine.workspace.init();
    await fsp.mkdir(capturesDir(engine.workspace.root), { recursive: true });
    engine.library.watch();
    return engine;
  }

  /** Where events go from now on (the adapter, once it runs). */
  setEventSink(emit: EventSink): void {
    this.emit = emit;
  }

  // --- sessions ---------------------------------------------------------------------------------------------------

  async listSessions(): Promise<SessionInfo[]> {
    return this.sessions.snapshot();
  }

  async connect(args: Parameters<WirescopeService["connect"]>[0]): Promise<SessionInfo> {
    const protocol = await this.library.resolve(args.protocol);
    const entry = await this.sessions.create("client", args.name, [protocol]);
    try {
      await entry.session.startClient(args.target, protocol);
    } catch (err) {
      // A description that doesn't parse never started anything: leave nothing behind. A failed attempt (refused,
      // timed out) stays, with its timeline, so the user sees what happened and can reconnect.
      if (err instanceof BadEndpointError) await this.sessions.drop(entry);
      throw err;
    } finally {
      this.sessions.changed();
    }
    return entry.session.info();
  }

  async listen(args: Parameters<WirescopeService["listen"]>[0]): Promise<SessionInfo> {
    const protocol = await this.library.resolve(args.protocol);
    const entry = await this.sessions.create("listener", args.name, [protocol]);
    try {
      const tls = args.tls && (await sessionTLSContext(args.tls, "terminate", this.tls));
      await entry.session.startListener(args.target, protocol, tls);
    } catch (err) {
      await this.sessions.drop(entry);
      throw err;
    }
    this.sessions.changed();
    return entry.session.info();
  }

  async proxy(args: Parameters<WirescopeService["proxy"]>[0]): Promise<SessionInfo> {
    const clientProtocol = await this.library.resolve(args.clientProtocol);
    const serverProtocol = await this.library.resolve(args.serverProtocol);
    const entry = await this.sessions.create("proxy", args.name, [clientProtocol, serverProtocol]);
    try {
      const tls = args.tls && (await sessionTLSContext(args.tls, args.tls.mode, this.tls));
      await entry.session.startProxy(args.listen, args.upstream, clientProtocol, serverProtocol, tls);
    } catch (err) {
      await this.sessions.drop(entry);
      throw err;
    }
    this.sessions.changed();
    return entry.session.info();
  }

  /**
   * Runs a command as a process session (process-session.ts). Its working folder is taken from the workspace's when
   * relative or absent; its environment is the engine's plus `env`. A command that can't run leaves no session.
   * `tap` is for callers in the engine's own process (`wirescope wrap`): it sees the child's pipes as they flow,
   * and the protocol, if any, only watches them (a passive decoder of both directions).
   */
  async spawn(args: Parameters<WirescopeService["spawn"]>[0], tap: ProcessTap | null = null): Promise<SessionInfo> {
    const file = await this.library.resolve(args.protocol ?? null);
    const program = path.basename(args.argv[0]!);
    const entry = await this.sessions.create("process", args.name ?? program, [file]);
    const { session, group } = entry;
    const protocols =
      file === null || group === null
        ? null
        : {
            file,
            create: (connection: ConnectionRecord) => processProtocol(group, file, session, connection),
          };
    return this.started(entry, () =>
      processSession(session, "run a command").start(
        {
          argv: args.argv,
          cwd: path.resolve(this.workspace.root, args.cwd ?? "."),
          env: args.env ?? {},
        },
        tap,
        protocols,
      ),
    );
  }

  /** Sends a signal to a process session's child. */
  async signalProcess(args: Parameters<WirescopeService["signalProcess"]>[0]): Promise<Record<string, never>> {
    processSession(this.sessions.get(args.session).session, `send it ${args.signal}`).signal(args.signal);
    return {};
  }

  async reconnect(args: { session: string }): Promise<SessionInfo> {
    const { session } = this.sessions.get(args.session);
    try {
      if (session instanceof ProcessSession) await session.restart();
      else await session.connectClient();
    } finally {
      this.sessions.changed();
    }
    return session.info();
  }

  async closeSession(args: { session: string }): Promise<Record<string, never>> {
    await this.sessions.get(args.session).session.close();
    this.sessions.changed();
    return {};
  }

  async removeSession(args: { session: string }): Promise<Record<string, never>> {
    await this.sessions.remove(args.session);
    return {};
  }

  async closeConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.sessions.get(args.session).session.closeConnection(args.conn);
    return {};
  }

  async abortConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.sessions.get(args.session).session.abortConnection(args.conn);
    return {};
  }

  async halfCloseConnection(args: { session: string; conn: number }): Promise<Record<string, never>> {
    this.sessions.get(args.session).session.halfCloseConnection(args.conn);
    return {};
  }

  async send(args: Parameters<WirescopeService["send"]>[0]): Promise<{ bytes: number }> {
    const { session } = this.sessions.get(args.session);
    const data = decodeSendData(args.data, args.encoding);
    session.send(args.conn, data);
    return { bytes: data.byteLength };
  }

  /**
   * The TLS key log of a session's connections (or of connection `conn`), in SSLKEYLOGFILE format, for Wireshark to
   * decrypt a capture of the same traffic (tls-keys.ts).
   */
  async exportTLSKeys(args: Parameters<WirescopeService["exportTLSKeys"]>[0]): Promise<CommandResult<"exportTLSKeys">> {
    const { session } = this.sessions.get(args.session);
    const records = args.conn !== undefined ? [session.connection(args.conn)] : [...session.connections.values()];
    return exportTLSKeys(records);
  }

  /**
   * Opens a Wirescope capture file as an "imported" session: its events copied onto the session's own new capture,
   * its connections rebuilt (reopen-recording.ts). The file is only read. Throws "recording-not-found", or the
   * CaptureError ("not-a-capture", "newer-version", "corrupt") naming the file.
   */
  async openRecording(args: Parameters<WirescopeService["openRecording"]>[0]): Promise<SessionInfo> {
    return reopenRecording(args.path, { root: this.workspace.root, sessions: this.sessions, signal: this.signal });
  }

  /**
   * The capture file a session records to (for the CLI, which prints where it is). Not part of the contract: the
   * app shows captures through the workspace. Throws UnknownSessionError.
   */
  captureFileOf(session: string): string {
    return this.sessions.get(session).recorder.file;
  }

  /**
   * Hands `listener` each event of `session` the moment it is recorded, from now on, until the returned function is
   * called (recorded-events.ts: what may not pass through it). Not part of the contract: for the CLI, which runs the
   * engine in-process and prints every event. Throws UnknownSessionError.
   */
  watchRecorded(session: string, listener: RecordedListener): () => void {
    return this.sessions.get(session).recorded.watch(listener);
  }

  /**
   * Every connection of `session`, in the order they were made: not only the MAX_LISTED_CONNECTIONS (limits.ts) its SessionInfo
   * lists for the session list. For what must see each one (an export, the CLI's check of --conn). Not part of the
   * contract. Throws UnknownSessionError.
   */
  connectionsOf(session: string): ConnectionInfo[] {
    return this.sessions.connectionsOf(session);
  }

  /**
   * Events by range, each chunk with its stream offset (DataEvent.offset) from the timeline's index; with `preview`,
   * each chunk cut to its first bytes, its whole size in DataEvent.size when cut (timeline-preview.ts).
   */
  async readTimeline(args: Parameters<WirescopeService["readTimeline"]>[0]): Promise<CommandResult<"readTimeline">> {
    const { recorder } = this.sessions.get(args.session);
    const events =
      args.preview === undefined
        ? await recorder.read(args.from, args.count)
        : await readPreviews(recorder, args.from, args.count, args.preview);
    recorder.index.fillOffsets(events);
    return { events, total: recorder.count };
  }

  /** A page of the events matching a filter (find-timeline.ts). Throws BadFilterError for one that doesn't parse. */
  async findTimeline(args: Parameters<WirescopeService["findTimeline"]>[0]): Promise<CommandResult<"findTimeline">> {
    const { recorder } = this.sessions.get(args.session);
    const parsed = parseFilter(args.filter);
    if (!parsed.ok) throw new BadFilterError(parsed.message, parsed.column);
    return findTimeline(recorder, { ...args, filter: parsed.filter });
  }

  /** The I/O graph of a session or connection, from its timeline's index (io-graph.ts). */
  async ioGraph(args: Parameters<WirescopeService["ioGraph"]>[0]): Promise<CommandResult<"ioGraph">> {
    return ioGraph(this.sessions.get(args.session).recorder.index, args);
  }

  /** The chunks holding a connection's spans (message-bytes.ts). */
  async locateSpans(args: Parameters<WirescopeService["locateSpans"]>[0]): Promise<CommandResult<"locateSpans">> {
    return { pieces: locateSpans(this.sessions.get(args.session).recorder, args.conn, args.spans) };
  }

  /** The decoded message, and its field, holding a byte of a connection's stream (message-bytes.ts). */
  async messageAt(args: Parameters<WirescopeService["messageAt"]>[0]): Promise<CommandResult<"messageAt">> {
    return messageAt(this.sessions.get(args.session).recorder, args);
  }

  // --- protocols --------------------------------------------------------------------------------------------------

  async listProtocols(): Promise<ProtocolFile[]> {
    return this.library.list();
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
    return this.library.save(args.path, args.content);
  }

  async createProtocol(args: { path: string; template: string }): Promise<ProtocolFile> {
    return this.library.create(args.path, args.template);
  }

  async deleteProtocol(args: { path: string }): Promise<Record<string, never>> {
    await this.library.delete(args.path);
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
    await this.library.switchTo(next);
    return this.getSettings();
  }

  // --- certificate authority --------------------------------------------------------------------------------------

  /**
   * Wirescope's CA, in the settings folder: opened (made on first use) at the first call, then the same one for
   * every caller — sessions that play a TLS server ask it for leaves. An open that failed (CAUnreadableError: a
   * damaged file) is not kept: the next call reads the files again.
   */
  ca(): Promise<CertificateAuthority> {
    return (this.opening ??= this.keepCA(CertificateAuthority.open(this.configDir)));
  }

  async caInfo(): Promise<CommandResult<"caInfo">> {
    return (await this.ca()).info();
  }

  /**
   * Replaces the CA with a new one (ca.ts's regenerate), or makes one over files that could not be read. Sessions
   * started before keep the leaves they were given; later handshakes use the new CA.
   */
  async regenerateCA(): Promise<CommandResult<"regenerateCA">> {
    const current = await this.ca().catch((err: unknown) => {
      if (err instanceof CAUnreadableError) return null;
      throw err;
    });
    if (current !== null) {
      await current.regenerate();
      return current.info();
    }
    const made = (this.opening = this.keepCA(CertificateAuthority.create(this.configDir)));
    return (await made).info();
  }

  /** `opening`, forgotten if it fails, so that the next ca() tries again. */
  private keepCA(opening: Promise<CertificateAuthority>): Promise<CertificateAuthority> {
    opening.catch(() => {
      if (this.opening === opening) this.opening = null;
    });
    return opening;
  }

  /** A session, or one connection, as a pcapng file in the workspace's exports folder (long-commands.ts). */
  async exportPcapng(args: Parameters<WirescopeService["exportPcapng"]>[0]): Promise<CommandResult<"exportPcapng">> {
    return this.longCommands.exportPcapng(args);
  }

  /**
   * Copies the session's capture, flushed first so that the copy holds every event recorded so far, into
   * `<workspace>/exports/` (interchange/export-capture.ts). The session goes on recording into its own file.
   */
  async exportCapture(args: Parameters<WirescopeService["exportCapture"]>[0]): Promise<CommandResult<"exportCapture">> {
    const { session, recorder } = this.sessions.get(args.session);
    // Counted before the flush, which writes at least these: the copy holds them (and maybe some recorded since).
    const events = recorder.count;
    await recorder.flush();
    const written = await exportCapture(session.info(), recorder.file, exportsDir(this.workspace.root));
    return { ...written, events };
  }

  /** Reads a pcap/pcapng file and keeps its conversations (long-commands.ts). */
  async importCapture(args: Parameters<WirescopeService["importCapture"]>[0]): Promise<CommandResult<"importCapture">> {
    return this.longCommands.importCapture(args);
  }

  /** Stops a long command running under `args.operation` (long-commands.ts). */
  async cancel(args: Parameters<WirescopeService["cancel"]>[0]): Promise<CommandResult<"cancel">> {
    return this.longCommands.cancel(args);
  }

  /** Opens a conversation of an imported capture as an "imported" session. */
  async openConversation(
    args: Parameters<WirescopeService["openConversation"]>[0],
  ): Promise<CommandResult<"openConversation">> {
    const info = await this.imports.openConversation(args, (shown) => this.sessions.createOffline("imported", shown));
    this.sessions.changed();
    return info;
  }

  /** Runs a protocol over a recorded connection as a passive decoder, in a new session (long-commands.ts). */
  async decode(args: Parameters<WirescopeService["decode"]>[0]): Promise<CommandResult<"decode">> {
    return this.longCommands.decode(args);
  }

  /** Sends one side of a recorded connection again, in a new live "replay" session (replay.ts). */
  async replay(args: Parameters<WirescopeService["replay"]>[0]): Promise<CommandResult<"replay">> {
    const from = this.sessions.get(args.session);
    const conversation = await readConversation(from.session, from.recorder, args.conn, { signal: this.signal });
    const entry = await this.sessions.create("replay", args.name ?? `replay of ${from.session.name}`, [], {
      source: `${from.session.name}, connection ${args.conn}, ${args.side} side`,
    });
    return this.started(entry, () => startReplay(entry.session, conversation, args, this.reactor));
  }

  /** The comparison of a replay session's answers with the recorded ones, so far. */
  async replayReport(args: Parameters<WirescopeService["replayReport"]>[0]): Promise<CommandResult<"replayReport">> {
    const driver = replayOf(this.sessions.get(args.session).session);
    if (driver === undefined) {
      throw new EngineError("not-a-replay", `Session '${args.session}' is not a replay: choose a replay session.`);
    }
    return driver.report();
  }

  /**
   * Starts a session just created (`start`) and answers what it shows: one that fails to start is dropped, leaving
   * nothing behind, and the error thrown; the session list is sent again either way.
   */
  private async started(entry: SessionEntry, start: () => Promise<unknown>): Promise<SessionInfo> {
    try {
      await start();
    } catch (err) {
      await this.sessions.drop(entry);
      throw err;
    } finally {
      this.sessions.changed();
    }
    return entry.session.info();
  }

  /** Graceful stop: sessions closed, captures flushed, listeners released, workers stopped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.library.close();
    await this.sessions.close();
    await this.sandbox.dispose();
  }
}
