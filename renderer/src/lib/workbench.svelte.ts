/**
 * The workbench's state, shared by every view: what the engine reported (sessions, protocol files, templates,
 * profiles) and what the user selected. One instance, created in main.ts and given to components as a prop or
 * through context. Components never poll: the engine's events keep this up to date.
 */
import type {
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

export class Workbench {
  sessions = $state<SessionInfo[]>([]);
  protocols = $state<ProtocolFile[]>([]);
  templates = $state<{ id: string; title: string; description: string }[]>([]);
  profiles = $state<Profile[]>([]);
  view = $state<View>({ kind: "welcome" });
  /** Timeline totals per session, from onTimelineGrew (the traffic view fetches rows by range). */
  totals = $state<Record<string, number>>({});
  /** The last error to show in the status bar, if any. */
  lastError = $state<ContractError | null>(null);
  /** The last result the user should know of (where an export was saved), for the status bar. */
  notice = $state<string | null>(null);
  connected = $state(true);

  constructor(readonly api: WirescopeApi) {}

  /** Loads the lists and subscribes to the engine's events. Returns the unsubscribe function. */
  async start(): Promise<() => void> {
    const offs = [
      this.api.onSessionsChanged((list) => {
        this.sessions = list;
        for (const s of list) this.totals[s.id] = Math.max(this.totals[s.id] ?? 0, s.events);
      }),
      this.api.onTimelineGrew((batch) => {
        for (const { session, count } of batch) this.totals[session] = count;
      }),
      this.api.onProtocolsChanged((files) => (this.protocols = files)),
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
      this.sessions = sessions.value;
      for (const s of sessions.value) this.totals[s.id] = s.events;
    }
    if (protocols.ok) this.protocols = protocols.value;
    if (templates.ok) this.templates = templates.value;
    if (profiles.ok) this.profiles = profiles.value;
    return () => offs.forEach((off) => off());
  }

  /** The selected session, if the traffic view shows one. */
  get session(): SessionInfo | undefined {
    const v = this.view;
    return v.kind === "traffic" ? this.sessions.find((s) => s.id === v.session) : undefined;
  }

  /** The selected connection, if one is. */
  get connection(): ConnectionInfo | undefined {
    const v = this.view;
    if (v.kind !== "traffic" || v.conn === null) return undefined;
    return this.session?.connections.find((c) => c.conn === v.conn);
  }

  /** Runs a command; on failure keeps the error for the status bar and returns null. */
  async run<T>(call: Promise<Result<T>>): Promise<T | null> {
    const result = await call;
    if (result.ok) return result.value;
    this.lastError = result.error;
    return null;
  }

  /** Says `text` in the status bar; it replaces an older error there (it is the newer news). */
  say(text: string): void {
    this.notice = text;
    this.lastError = null;
  }

  /** Shows a session (and optionally one of its connections) in the traffic view. */
  showTraffic(session: string, conn: number | null = null): void {
    this.view = { kind: "traffic", session, conn };
  }

  /** Opens a protocol file in the editor. */
  openEditor(path: string): void {
    this.view = { kind: "editor", path };
  }

  /** Adds or replaces a session in the list at once (before the batched notice arrives). */
  upsert(session: SessionInfo): void {
    const i = this.sessions.findIndex((s) => s.id === session.id);
    if (i === -1) this.sessions.push(session);
    else this.sessions[i] = session;
  }
}
