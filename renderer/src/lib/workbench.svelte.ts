/**
 * The workbench's state, shared by every view: what the engine reported (sessions, protocol files, templates,
 * profiles) and what the user selected. One instance, created in main.ts and given to components as a prop or
 * through context. Components never poll: the engine's events keep this up to date.
 *
 * Components read the state through getters and change it only through the named methods below (the state itself is
 * private), so every change the workbench can go through is listed here.
 */
import type {
  CommandResult,
  ConnectionInfo,
  ContractError,
  ProtocolFile,
  Profile,
  Result,
  SessionInfo,
  WirescopeApi,
} from "../../../preload/contract.ts";

/** What the main area shows. */
export type View =
  { kind: "welcome" } | { kind: "traffic"; session: string; conn: number | null } | { kind: "editor"; path: string };

/** A template a new protocol file can start from, as the engine lists it. */
type Template = CommandResult<"listTemplates">[number];

export class Workbench {
  #sessions = $state<SessionInfo[]>([]);
  #protocols = $state<ProtocolFile[]>([]);
  #templates = $state<Template[]>([]);
  #profiles = $state<Profile[]>([]);
  #view = $state<View>({ kind: "welcome" });
  #totals = $state<Record<string, number>>({});
  #lastError = $state<ContractError | null>(null);
  #notice = $state<string | null>(null);

  constructor(readonly api: WirescopeApi) {}

  /** Every session the engine runs or keeps, in the engine's order. */
  get sessions(): readonly SessionInfo[] {
    return this.#sessions;
  }

  /** The workspace's protocol files, as the engine last listed them (plus any created here since). */
  get protocols(): readonly ProtocolFile[] {
    return this.#protocols;
  }

  /** The templates a new protocol can start from; fixed for the life of the page. */
  get templates(): readonly Template[] {
    return this.#templates;
  }

  /** The saved connection profiles of the workspace. */
  get profiles(): readonly Profile[] {
    return this.#profiles;
  }

  /** What the main area shows. */
  get view(): View {
    return this.#view;
  }

  /** Timeline totals per session, from onTimelineGrew (the traffic view fetches rows by range). */
  get totals(): Readonly<Record<string, number>> {
    return this.#totals;
  }

  /** The last error to show in the status bar, if any. */
  get lastError(): ContractError | null {
    return this.#lastError;
  }

  /** The last result the user should know of (where an export was saved), for the status bar. */
  get notice(): string | null {
    return this.#notice;
  }

  /** Loads the lists and subscribes to the engine's events. Returns the unsubscribe function. */
  async start(): Promise<() => void> {
    const offs = [
      this.api.onSessionsChanged((list) => {
        this.#sessions = list;
        for (const s of list) this.#totals[s.id] = Math.max(this.#totals[s.id] ?? 0, s.events);
      }),
      this.api.onTimelineGrew((batch) => {
        for (const { session, count } of batch) this.#totals[session] = count;
      }),
      this.api.onProtocolsChanged((files) => (this.#protocols = files)),
    ];
    const [sessions, protocols, templates, profiles, settings] = await Promise.all([
      this.api.listSessions({}),
      this.api.listProtocols({}),
      this.api.listTemplates({}),
      this.api.listProfiles({}),
      this.api.getSettings({}),
    ]);
    // The workspace chosen in Settings could not be used at start: say so once, where the user looks.
    if (settings.ok && settings.value.problem !== undefined) {
      this.say(`${settings.value.problem} Choose another folder in Settings.`);
    }
    if (sessions.ok) {
      this.#sessions = sessions.value;
      for (const s of sessions.value) this.#totals[s.id] = s.events;
    }
    if (protocols.ok) this.#protocols = protocols.value;
    if (templates.ok) this.#templates = templates.value;
    if (profiles.ok) this.#profiles = profiles.value;
    return () => offs.forEach((off) => off());
  }

  /** The selected session, if the traffic view shows one. */
  get session(): SessionInfo | undefined {
    const v = this.#view;
    return v.kind === "traffic" ? this.#sessions.find((s) => s.id === v.session) : undefined;
  }

  /** The selected connection, if one is. */
  get connection(): ConnectionInfo | undefined {
    const v = this.#view;
    if (v.kind !== "traffic" || v.conn === null) return undefined;
    return this.session?.connections.find((c) => c.conn === v.conn);
  }

  /** Runs a command; on failure keeps the error for the status bar and returns null. */
  async run<T>(call: Promise<Result<T>>): Promise<T | null> {
    const result = await call;
    if (result.ok) return result.value;
    this.#lastError = result.error;
    return null;
  }

  /** Says `text` in the status bar; it replaces an older error there (it is the newer news). */
  say(text: string): void {
    this.#notice = text;
    this.#lastError = null;
  }

  /**
   * Called when the user dismisses the status bar's message: the error goes if there is one (a notice under it shows
   * again), else the notice.
   */
  dismiss(): void {
    if (this.#lastError !== null) this.#lastError = null;
    else this.#notice = null;
  }

  /** Shows a session (and optionally one of its connections) in the traffic view. */
  showTraffic(session: string, conn: number | null = null): void {
    this.#view = { kind: "traffic", session, conn };
  }

  /** Opens a protocol file in the editor. */
  openEditor(path: string): void {
    this.#view = { kind: "editor", path };
  }

  /** Adds or replaces a session in the list at once (before the batched notice arrives). */
  upsert(session: SessionInfo): void {
    const i = this.#sessions.findIndex((s) => s.id === session.id);
    if (i === -1) this.#sessions.push(session);
    else this.#sessions[i] = session;
  }

  /**
   * Closes and forgets session `id` (its capture file stays in the workspace) and goes back to the welcome view.
   * A refusal goes to the status bar and changes nothing.
   */
  async removeSession(id: string): Promise<void> {
    if ((await this.run(this.api.removeSession({ session: id }))) === null) return;
    this.#sessions = this.#sessions.filter((s) => s.id !== id);
    this.#view = { kind: "welcome" };
  }

  /** Adds a protocol file created here to the list at once (before the engine's list says so); once only. */
  addProtocol(file: ProtocolFile): void {
    if (!this.#protocols.some((p) => p.path === file.path)) this.#protocols.push(file);
  }

  /** Reads the profiles again (after one was saved, or the workspace moved); a failure goes to the status bar. */
  async reloadProfiles(): Promise<void> {
    const profiles = await this.run(this.api.listProfiles({}));
    if (profiles !== null) this.#profiles = profiles;
  }

  /** Deletes profile `name`; a refusal goes to the status bar and keeps it listed. */
  async deleteProfile(name: string): Promise<void> {
    if ((await this.run(this.api.deleteProfile({ name }))) === null) return;
    this.#profiles = this.#profiles.filter((p) => p.name !== name);
  }

  /**
   * Called once the engine moved to workspace `folder`: the profiles become the new folder's (the protocol list
   * arrives as an event), an editor showing an old file closes, and the status bar says where the workspace is.
   */
  async workspaceMoved(folder: string): Promise<void> {
    await this.reloadProfiles();
    if (this.#view.kind === "editor") this.#view = { kind: "welcome" };
    this.say(`Workspace: ${folder}`);
  }
}
