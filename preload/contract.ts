/**
 * The contract between the renderer and the engine, defined once: every command (its name, the schema of its
 * arguments, checked at run time in main, and the schema of its result) and every event.
 *
 * Adapters loop over these tables — the WebSocket adapter for browser mode, the Electron one over IPC — and never
 * list commands by hand. Across any adapter a command answers `{ ok: true, value } | { ok: false, error }`, where
 * `error` is `{ code, category, message }` that a person can act on, its code one of errors.ts's table (Electron
 * strips thrown errors to their message, so nothing relies on throwing across the boundary).
 *
 * This module depends on zod only; the renderer imports it for types and for the same schemas (a form can check
 * its fields with them before sending).
 */
import { z } from "zod";
import {
  MAX_CAPTURE_DATA_BYTES,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  MAX_PREVIEW_BYTES,
  MAX_QUOTED_LENGTH,
  MAX_REASON_LENGTH,
  MAX_SEND_LENGTH,
  MAX_SOURCE_LENGTH,
  shorten,
} from "./limits.ts";
import { contractError, invalidArguments, isErrorCode, type ArgumentIssue, type ContractError } from "./errors.ts";
import { ConversationSummary, ReplayReport, ResplitReport } from "./interchange.ts";
import type { TimelineEvent } from "./timeline.ts";
import { filePath, givenName, protocolPath, text } from "./contract-text.ts";
import { Argv, Env, ProcessSignal } from "./process-shapes.ts";
import { CAInfo, ListenTLS, ProxyTLS } from "./tls-shapes.ts";
import { ClientTarget, ListenTarget } from "./target-shapes.ts";
import { SessionInfo } from "./session-shapes.ts";
import { Diagnostic, Profile, ProtocolFile, Settings, Template } from "./workspace-shapes.ts";
import {
  filterText,
  FindResult,
  IoGraphResult,
  LocateResult,
  MAX_FIND_LIMIT,
  MAX_IO_BUCKETS,
  MAX_LOCATE_SPANS,
  MessageAtResult,
  PipeFd,
  SpanShape,
  StreamOffset,
} from "./search-shapes.ts";

export { CAInfo, CertificateSummary, ListenTLS, ProxyTLS, SessionTLS, TLSDetails, TLSFailure } from "./tls-shapes.ts";
export { ProcessInfo, ProcessSignal } from "./process-shapes.ts";
export { IoGraphResult, SpanShape } from "./search-shapes.ts";
export { ClientTarget, ListenTarget } from "./target-shapes.ts";
export { ConnectionInfo, ProtocolState, SessionInfo, SessionKind } from "./session-shapes.ts";
export { Diagnostic, Profile, ProtocolFile, Settings, Template } from "./workspace-shapes.ts";

// --- shared shapes ----------------------------------------------------------------------------------------------

const sessionId = text("the session id", MAX_ID_LENGTH).min(1, "a session id is required");
/**
 * Names a long command (importCapture, exportPcapng, decode) while it runs, chosen by the caller: its onProgress
 * events carry it and `cancel` takes it. Unique among the commands running at once.
 */
const operationId = text("the operation id", MAX_ID_LENGTH).min(1, "an operation id can't be empty");
const conn = z.number().int("a connection number is an integer").min(1, "connections are numbered from 1");
/** A workspace-relative protocol file, or null/absent for raw bytes. */
const protocolRef = protocolPath
  .min(1)
  .nullable()
  .optional()
  .describe("a workspace protocol file (e.g. 'resp.ts'), a template id ('template:resp'), or null for raw bytes");

/** How the user typed bytes to send. "text" understands the escapes \r \n \t \0 \\ and \xNN. */
export const SendEncoding = z.enum(["text", "hex", "base64"]);

const Bytes = z.instanceof(Uint8Array);

const TimelineEventSchema = z.custom<TimelineEvent>(
  (v) => typeof v === "object" && v !== null && "seq" in v && "kind" in v,
);

// --- the table --------------------------------------------------------------------------------------------------

/** A command: the schema of its arguments and of its result. */
export interface CommandSpec<A extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  args: A;
  result: R;
  /** One line for people reading the contract (and for the CLI's help). */
  summary: string;
  /**
   * What to do when an answer is too large to send, for a command whose arguments can ask for less ("ask for
   * fewer events"); absent when none can, and then the adapter says so.
   */
  whenTooLarge?: string;
}

function command<A extends z.ZodType, R extends z.ZodType>(
  summary: string,
  args: A,
  result: R,
  whenTooLarge?: string,
): CommandSpec<A, R> {
  return { summary, args, result, ...(whenTooLarge !== undefined ? { whenTooLarge } : {}) };
}

const none = z.object({}).strict();
const ok = z.object({}).strict();

/** Every command. Adapters loop over this table. */
export const commands = {
  listSessions: command("All sessions with their connections.", none, z.array(SessionInfo)),
  connect: command(
    "Open a client session to a server.",
    z.object({ target: ClientTarget, protocol: protocolRef, name: givenName.optional() }),
    SessionInfo,
  ),
  listen: command(
    "Start a listener session. Binds 127.0.0.1 unless an interface is given.",
    z.object({ target: ListenTarget, protocol: protocolRef, tls: ListenTLS.optional(), name: givenName.optional() }),
    SessionInfo,
  ),
  proxy: command(
    "Listen locally and forward each accepted connection to an upstream; both directions recorded.",
    z.object({
      listen: ListenTarget,
      upstream: ClientTarget,
      clientProtocol: protocolRef.describe("runs on the accepted (client-facing) leg"),
      serverProtocol: protocolRef.describe("runs on the upstream leg"),
      tls: ProxyTLS.optional(),
      name: givenName.optional(),
    }),
    SessionInfo,
  ),
  spawn: command(
    "Start a process session: run a command; its stdin, stdout and stderr are recorded as connection 1.",
    z.object({
      argv: Argv,
      cwd: filePath.trim().min(1, "the working folder is empty: give a path or leave it out").optional(),
      env: Env.optional(),
      protocol: protocolRef.describe(
        "drives the child: a ProcessProtocol, or a Protocol reading stdout and writing stdin",
      ),
      name: givenName.optional(),
    }),
    SessionInfo,
  ),
  signalProcess: command(
    "Send a signal to a process session's child.",
    z.object({ session: sessionId, signal: ProcessSignal }),
    ok,
  ),
  reconnect: command(
    "Connect a client session again, or restart a process session's command (a new connection on the same timeline).",
    z.object({ session: sessionId }),
    SessionInfo,
  ),
  closeSession: command(
    "Stop a session: stop listening and close its connections (their bytes stay recorded).",
    z.object({ session: sessionId }),
    ok,
  ),
  removeSession: command(
    "Close a session and forget it (its capture file stays in the workspace).",
    z.object({ session: sessionId }),
    ok,
  ),
  closeConnection: command(
    "Close cleanly: flush, then FIN. A process: SIGTERM, then SIGKILL if it is still running after a grace period.",
    z.object({ session: sessionId, conn }),
    ok,
  ),
  abortConnection: command(
    "Abort: discard what is buffered and reset (RST). A process: SIGKILL.",
    z.object({ session: sessionId, conn }),
    ok,
  ),
  halfCloseConnection: command(
    "Shut our write side only (FIN); keep reading. A process: close its stdin.",
    z.object({ session: sessionId, conn }),
    ok,
  ),
  send: command(
    "Send bytes on a connection. Text understands \\r \\n \\t \\0 \\\\ and \\xNN; hex takes pairs of digits, spaces allowed.",
    z.object({ session: sessionId, conn, data: text("the data to send", MAX_SEND_LENGTH), encoding: SendEncoding }),
    z.object({ bytes: z.number() }),
  ),
  readTimeline: command(
    "Read `count` events of a session's timeline from `from` (clamped); with `preview`, each chunk only by its first bytes, its whole `size` said when cut.",
    z.object({
      session: sessionId,
      from: z.number().int().min(0),
      count: z.number().int().min(0).max(10_000, "read at most 10,000 events at a time"),
      preview: z
        .number()
        .int()
        .min(0)
        .max(MAX_PREVIEW_BYTES, `a preview is at most ${MAX_PREVIEW_BYTES.toLocaleString("en-US")} bytes of a chunk`)
        .optional()
        .describe("bytes of each chunk's data to return; absent: whole chunks"),
    }),
    z.object({ events: z.array(TimelineEventSchema), total: z.number() }),
    "ask for fewer events (a smaller count)",
  ),
  findTimeline: command(
    "Find the events of a session's timeline that match a filter (the filter language: preload/filter-language.ts), a page at a time over the whole timeline: a call stops at `limit` matches or after about 100 ms; go on from `next` (-1: all looked at). A wrong filter is a 'bad-filter' error saying where.",
    z.object({
      session: sessionId,
      filter: filterText,
      conn: z.number().int().min(0).optional().describe("only this connection's events"),
      from: z.number().int().min(0).describe("the seq to start at, inclusive"),
      backward: z.boolean().optional(),
      limit: z
        .number()
        .int()
        .min(1, "ask for at least one match")
        .max(MAX_FIND_LIMIT, `at most ${MAX_FIND_LIMIT.toLocaleString("en-US")} matches a call`),
    }),
    FindResult,
  ),
  ioGraph: command(
    "Bytes and decoded messages per time bucket, each direction apart, and paired responses' latency distribution, for a session or one connection, from the engine's index.",
    z.object({
      session: sessionId,
      conn: conn.optional(),
      from: z.number().optional().describe("timeline µs; default the first event's"),
      to: z.number().optional().describe("timeline µs, exclusive; default just past the last event's"),
      buckets: z
        .number()
        .int()
        .min(1, "at least one bucket")
        .max(MAX_IO_BUCKETS, `at most ${MAX_IO_BUCKETS.toLocaleString("en-US")} buckets`),
    }),
    IoGraphResult,
  ),
  locateSpans: command(
    "The data events holding the bytes of a connection's spans (a decoded message's, a field's), with the range within each chunk, in stream order.",
    z.object({
      session: sessionId,
      conn,
      spans: z.array(SpanShape).max(MAX_LOCATE_SPANS, `at most ${MAX_LOCATE_SPANS} spans a call`),
    }),
    LocateResult,
  ),
  messageAt: command(
    "The decoded message whose spans cover a byte of a connection's stream (the latest if several), and its narrowest field covering it.",
    z.object({ session: sessionId, conn, dir: z.enum(["in", "out"]), fd: PipeFd, offset: StreamOffset }),
    MessageAtResult,
  ),
  listProtocols: command("The workspace's protocol files.", none, z.array(ProtocolFile)),
  readProtocol: command(
    "A protocol file's source.",
    z.object({ path: protocolPath }),
    z.object({ content: z.string() }),
  ),
  saveProtocol: command(
    "Save a protocol file (atomically), compile it and hot-load it onto live connections.",
    z.object({ path: protocolPath, content: text("the source", MAX_SOURCE_LENGTH) }),
    z.object({ diagnostics: z.array(Diagnostic), reloaded: z.number() }),
  ),
  createProtocol: command(
    "Create a protocol file from a template.",
    z.object({ path: protocolPath, template: text("the template id", MAX_NAME_LENGTH) }),
    ProtocolFile,
  ),
  deleteProtocol: command("Move a protocol file to the workspace's .trash.", z.object({ path: protocolPath }), ok),
  listTemplates: command("Templates to start a protocol from.", none, z.array(Template)),
  listProfiles: command("Saved connection profiles.", none, z.array(Profile)),
  saveProfile: command("Save (or replace) a connection profile.", Profile, ok),
  deleteProfile: command("Delete a connection profile.", z.object({ name: givenName }), ok),
  getSettings: command("The app's settings: where the workspace lives.", none, Settings),
  setWorkspace: command(
    "Use another workspace folder (created if missing). Running sessions go on; protocols are read from the new one.",
    z.object({ path: filePath.trim().min(1, "the folder is empty: give a path") }),
    Settings,
  ),
  caInfo: command(
    "Wirescope's certificate authority (made on first use): its certificate file for clients to trust, and its fingerprint.",
    none,
    CAInfo,
  ),
  regenerateCA: command(
    "Replace Wirescope's certificate authority with a new one: clients must trust the new certificate.",
    none,
    CAInfo,
  ),
  exportPcapng: command(
    "Export a session, or one connection of it, as a pcapng file that Wireshark and tshark open, into the workspace's exports folder.",
    z.object({
      session: sessionId,
      conn: conn.optional(),
      includeData: z.boolean().optional(),
      operation: operationId.optional(),
    }),
    z.object({
      path: z.string(),
      packets: z.number(),
      bytes: z.number(),
      /**
       * The file's bytes, when `includeData` was set: for a client with no other way to the file. The workbench
       * does not ask: in browser mode it downloads from the server's exports route (main/adapters/export-download.ts).
       */
      data: Bytes.optional(),
      /** Connections left out, each with why ("connection 2: never connected"); absent when none were. */
      skipped: z.array(z.string()).optional(),
    }),
  ),
  exportCapture: command(
    "Copy a session's Wirescope capture (.wscap), as recorded so far, into the workspace's exports folder: `wirescope show` prints it and Open recording reopens it. Every session kind has one; a process session has it instead of pcapng.",
    z.object({ session: sessionId }),
    z.object({
      path: z.string(),
      /** The copy's size. */
      bytes: z.number(),
      /** How many timeline events it holds at least (the session may record more during the copy). */
      events: z.number(),
    }),
  ),
  exportTLSKeys: command(
    "The TLS session secrets of a session's connections (or of one), in SSLKEYLOGFILE format: Wireshark decrypts a capture of the same traffic with them.",
    z.object({ session: sessionId, conn: conn.optional() }),
    z.object({
      /** The key log, one line per secret, each ending in a newline. */
      text: z.string(),
      /** How many lines it has. */
      lines: z.number(),
      /** How many connections had keys. */
      connections: z.number(),
    }),
  ),
  importCapture: command(
    "Read a pcap or pcapng file (tcpdump, tshark, Wireshark), reassemble its TCP streams and list the conversations.",
    z
      .object({
        name: text("the file name", MAX_NAME_LENGTH).trim().min(1, "the file needs a name"),
        data: Bytes.refine((data) => data.length <= MAX_CAPTURE_DATA_BYTES, {
          error: (issue) =>
            `the file is ${(issue.input as Uint8Array).length.toLocaleString("en-US")} bytes; at most ${MAX_CAPTURE_DATA_BYTES.toLocaleString("en-US")} can be sent as data: import it by its path`,
        }).optional(),
        path: filePath.optional(),
        operation: operationId.optional(),
      })
      .strict()
      .refine((a) => (a.data === undefined) !== (a.path === undefined), "give either the file's data or its path"),
    z.object({
      /** Names this import for openConversation. */
      capture: z.string(),
      name: z.string(),
      format: z.enum(["pcap", "pcapng"]),
      packets: z.number(),
      conversations: z.array(ConversationSummary),
      /** Packets skipped and why ("12 non-TCP packets"). */
      warnings: z.array(z.string()),
    }),
  ),
  openRecording: command(
    "Open a Wirescope capture file (.wscap: a path, or a file name in the workspace's captures folder) as an imported session showing its recorded timeline.",
    z.object({ path: filePath.trim().min(1, "give the capture file's path") }).strict(),
    SessionInfo,
  ),
  openConversation: command(
    "Open a conversation of an imported capture as a session.",
    z.object({ capture: text("the capture id", MAX_ID_LENGTH).min(1), conversation: z.number().int().min(1) }),
    SessionInfo,
  ),
  decode: command(
    "Run a workspace protocol over a recorded or imported conversation as a passive decoder, on a deterministic clock at the original timing; optionally re-split the stream at random points to shake out framing bugs.",
    z.object({
      session: sessionId,
      conn,
      protocol: protocolPath.min(1, "choose a protocol file"),
      /** "client": the protocol plays the client and reads what the server sent; "server": the reverse; "both": one instance per direction. */
      side: z.enum(["client", "server", "both"]),
      resplit: z
        .object({
          runs: z.number().int().min(1).max(1000, "at most 1,000 re-split runs"),
          seed: z.number().int().min(0),
        })
        .optional(),
      name: givenName.optional(),
      operation: operationId.optional(),
    }),
    z.object({ session: SessionInfo, resplit: ResplitReport.optional() }),
  ),
  cancel: command(
    "Stop a long command that was given this `operation` id: it fails with a 'cancelled' error and leaves no session or file behind. Answers whether it was still running.",
    z.object({ operation: operationId }),
    z.object({ cancelled: z.boolean() }),
  ),
  replay: command(
    "Send one side of a recorded conversation again: the client side to a server (`target`), or the server side to a client that connects to a new listener (`listen`); the new answers are compared with the recorded ones.",
    z
      .object({
        session: sessionId,
        conn,
        side: z.enum(["client", "server"]),
        target: ClientTarget.optional(),
        listen: ListenTarget.optional(),
        name: givenName.optional(),
      })
      .superRefine((a, ctx) => {
        if (a.side === "client" && a.target === undefined)
          ctx.addIssue({
            code: "custom",
            path: ["target"],
            message: "replaying the client side needs a server to send it to",
          });
        if (a.side === "server" && a.listen === undefined)
          ctx.addIssue({
            code: "custom",
            path: ["listen"],
            message: "replaying the server side needs a port to listen on",
          });
      }),
    SessionInfo,
  ),
  replayReport: command(
    "How a replay's answers compare with the recorded ones, exchange by exchange.",
    z.object({ session: sessionId }),
    ReplayReport,
  ),
} satisfies Record<string, CommandSpec>;

export type Commands = typeof commands;
export type CommandName = keyof Commands;
export type CommandArgs<K extends CommandName> = z.input<Commands[K]["args"]>;
export type CommandResult<K extends CommandName> = z.output<Commands[K]["result"]>;

/** Every event, with the schema of its payload. Engines emit them batched (a few dozen a second at most). */
export const events = {
  /** The sessions changed (state, connections, counters): the whole list. */
  onSessionsChanged: z.array(SessionInfo),
  /** Timelines grew: the new total per session. */
  onTimelineGrew: z.array(z.object({ session: z.string(), count: z.number() })),
  /** The workspace's protocol files changed (saved here or in another editor, compiled, reloaded). */
  onProtocolsChanged: z.array(ProtocolFile),
  /**
   * How far a long command given an `operation` id has got: `done` of `total` (null when unknown) bytes of the file
   * it reads or events of the timeline. A few a second at most, the first and the last always.
   */
  onProgress: z.object({
    operation: z.string(),
    done: z.number(),
    total: z.number().nullable(),
    unit: z.enum(["bytes", "events"]),
  }),
} satisfies Record<`on${string}`, z.ZodType>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

// --- results and errors -----------------------------------------------------------------------------------------

export type { ArgumentIssue, ContractError, ErrorCategory, ErrorCode } from "./errors.ts";
export { BytesWindow, ConversationSummary, ReplayExchange, ReplayReport, ResplitReport } from "./interchange.ts";

export type Result<T> = { ok: true; value: T } | { ok: false; error: ContractError };

/** The API the renderer sees on `window.wirescope`: one method per command, one subscription per event. */
export type WirescopeApi = {
  [K in CommandName]: (args: CommandArgs<K>) => Promise<Result<CommandResult<K>>>;
} & {
  [E in EventName]: (listener: (payload: EventPayload<E>) => void) => () => void;
};

/** The engine side: one async method per command, which throws small errors with a `code` on failure. */
export type WirescopeService = {
  [K in CommandName]: (args: z.output<Commands[K]["args"]>) => Promise<CommandResult<K>>;
};

/** Where an engine sends events; adapters provide it. */
export type EventSink = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

/** How many wrong fields an "invalid-arguments" message names; it counts the others. */
const MAX_ISSUES_NAMED = 5;

/**
 * Checks `args` against the command's schema. Returns the parsed arguments, or an "invalid-arguments" ContractError
 * whose `issues` name each wrong field (its dotted path) and say what was expected, as its message does
 * ("connect: target.port: a port is from 0 to 65535"): the first MAX_ISSUES_NAMED, each cut to MAX_QUOTED_LENGTH
 * characters (zod quotes unknown keys), then "and 3 more" for the arguments as a whole, so that the answer stays
 * short whatever was sent.
 */
export function checkArgs<K extends CommandName>(
  name: K,
  args: unknown,
): { ok: true; value: z.output<Commands[K]["args"]> } | { ok: false; error: ContractError } {
  const spec = commands[name] as CommandSpec;
  const parsed = spec.args.safeParse(args ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as z.output<Commands[K]["args"]> };
  const all = parsed.error.issues;
  const issues: ArgumentIssue[] = all.slice(0, MAX_ISSUES_NAMED).map((issue) => ({
    path: shorten(issue.path.map(String).join("."), MAX_QUOTED_LENGTH),
    message: shorten(issue.message, MAX_QUOTED_LENGTH),
  }));
  if (all.length > MAX_ISSUES_NAMED) issues.push({ path: "", message: `and ${all.length - MAX_ISSUES_NAMED} more` });
  return { ok: false, error: invalidArguments(name, issues) };
}

/** Whether `name` is a command of the contract (not an inherited property). */
export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(commands, name);
}

/**
 * Turns anything thrown inside the engine into a ContractError: errors whose `code` is one of errors.ts's table keep
 * it (with its category); anything else, a Node error's "EACCES" included, becomes "internal" with its message
 * (never a stack: those go to the log). The message is cut to MAX_REASON_LENGTH characters: one that quotes
 * whatever it was given still makes a small answer.
 */
export function toContractError(err: unknown): ContractError {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    const message = shorten(err.message || err.name, MAX_REASON_LENGTH);
    if (!isErrorCode(code)) return contractError("internal", message);
    const issues = issuesOf(err);
    return issues.length > 0 ? contractError(code, message, issues) : contractError(code, message);
  }
  return contractError("internal", shorten(String(err), MAX_REASON_LENGTH));
}

/**
 * The `issues` an engine error names (BadCertificateError's field), each cut to MAX_QUOTED_LENGTH characters and at
 * most MAX_ISSUES_NAMED of them; none for errors without.
 */
function issuesOf(err: Error): ArgumentIssue[] {
  const issues = (err as Error & { issues?: unknown }).issues;
  if (!Array.isArray(issues)) return [];
  return issues
    .filter((i): i is ArgumentIssue => typeof i?.path === "string" && typeof i?.message === "string")
    .slice(0, MAX_ISSUES_NAMED)
    .map(({ path, message }) => ({
      path: shorten(path, MAX_QUOTED_LENGTH),
      message: shorten(message, MAX_QUOTED_LENGTH),
    }));
}

/** Bytes inside results and events (timeline data). Adapters that speak JSON encode them; see codec.ts. */
export type { TimelineEvent };
export { Bytes as BytesSchema };
