/**
 * How a session runs user protocols: its connections get SandboxedProtocols of the session's sandbox group, and what
 * the group says (logs, errors, halts, reloads, connections the protocol opens) lands on the session's timeline.
 */
import type { IProtocol } from "../../core/index.ts";
import { MAX_REASON_LENGTH, shorten } from "../../preload/limits.ts";
import type { LifecycleEvent, NewTimelineEvent } from "../../preload/timeline.ts";
import { EncodedLogEvent } from "../recording/encoded-log-event.ts";
import { monotonicMicros } from "../recording/recorder.ts";
import type { SandboxGroup } from "../sandbox/host.ts";
import type { SandboxLogEvent } from "../sandbox/messages.ts";
import type { SandboxedProtocol, SandboxEvents } from "../sandbox/sandboxed-protocol.ts";
import { checkMessage } from "./message-check.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";
import { rawProtocols, type ProtocolProvider, type Session } from "./session.ts";

/** The export a proxy leg runs, when its file has it (else the default export). */
const LEG_EXPORTS = { client: "ClientLeg", server: "ServerLeg" } as const;

/**
 * The provider of a session's sandboxed protocols: each connection gets a SandboxedProtocol of `group`, built
 * from the file's default export — or, on a proxy leg, from its `ClientLeg` / `ServerLeg` export when it has one,
 * so that one file can run on both legs and know which way the bytes it receives go (the resp-tap template).
 * The session is passed in with each connection, so the provider can exist before the session does.
 */
export function sandboxedProtocols(group: SandboxGroup): ProtocolProvider {
  return {
    create: (file: string | null, session: Session, connection: ConnectionRecord): IProtocol => {
      if (file === null) return rawProtocols.create(null, session, connection);
      const legExport = session.kind === "proxy" ? LEG_EXPORTS[connection.leg] : null;
      const exportName = legExport !== null && group.exportsOf(file).includes(legExport) ? legExport : null;
      connection.protocol = { file, className: exportName ?? "default", state: "running" };
      // A tap on a proxy leg: the leg forwards what arrives itself, and the protocol decodes a copy (ProxyLeg).
      const tap = session.kind === "proxy" && group.runsTap(file, exportName);
      const events = protocolEvents(session, connection, tap);
      const options = {
        moduleKey: file,
        ...(exportName === null ? {} : { exportName }),
        tap,
        proxyLeg: session.kind === "proxy",
      };
      return group.attach(options, events);
    },
  };
}

/**
 * The sandboxed protocol of one child of a process session: the default export of `file` (a ProcessProtocol
 * subclass, or a plain Protocol that gets the child's stdout), built by `group` for `connection`, its events on the
 * session's timeline. Called by the process session for each run of its command.
 */
export function processProtocol(
  group: SandboxGroup,
  file: string,
  session: Session,
  connection: ConnectionRecord,
): SandboxedProtocol {
  connection.protocol = { file, className: "default", state: "running" };
  return group.attach({ moduleKey: file }, protocolEvents(session, connection));
}

/**
 * Wires `group`'s session-wide callbacks to `session`, once the session exists: connections its protocols open
 * (`reactor.connectTCP` in user code), log lines outside any connection, and errors of the group itself.
 */
export function wireGroup(group: SandboxGroup, session: Session): void {
  group.onConnectRequest = (request) =>
    session.openRequested(request, (connection) => protocolEvents(session, connection));
  group.onLog = (e) => session.timeline.append(logEvent(e, 0, (reason) => session.note("protocol-error", reason)));
  group.onError = (info) => session.note("protocol-error", info.message);
}

/**
 * The timeline event of a protocol's log event on `conn`, now: a decoded message's spans, field spans and pairing
 * when they pass message-check.ts; when they don't, the plain log line, and `refused` is told why. Its payload is
 * the bytes the worker wrote (EncodedLogEvent): recorded as they are, its text and fields never decoded on the way.
 */
function logEvent(e: SandboxLogEvent, conn: number, refused: (reason: string) => void): NewTimelineEvent {
  const event = new EncodedLogEvent(-1, monotonicMicros(), conn, e.level, e);
  if (e.message === undefined) return event;
  const checked = checkMessage(e.message);
  if (!checked.ok) {
    refused(checked.reason);
    return event;
  }
  const { spans, fieldSpans, pair } = checked.message;
  event.spans = spans;
  if (fieldSpans !== undefined) event.fieldSpans = fieldSpans;
  if (pair !== undefined) event.pair = pair;
  return event;
}

/**
 * Puts what the sandbox says about one connection on its timeline and its row. `tap`: the connection is a tapped
 * proxy leg, whose bytes go on flowing while its protocol is halted (the halt's note says so).
 */
function protocolEvents(session: Session, connection: ConnectionRecord, tap = false): SandboxEvents {
  const note = (event: LifecycleEvent, detail: string) => session.note(event, detail, connection.conn);
  return {
    onLog: (e) => session.timeline.append(logEvent(e, connection.conn, (reason) => note("protocol-error", reason))),
    onError: (info) => {
      const where = info.source ? ` at ${info.source.file}:${info.source.line}:${info.source.column}` : "";
      note("protocol-error", `${info.callback}: ${info.message}${where}`);
    },
    onHalted: (reason) => {
      // The row is in every session list; the timeline, read by range, keeps the whole reason.
      const halted = shorten(reason, MAX_REASON_LENGTH);
      if (connection.protocol) connection.protocol = { ...connection.protocol, state: "halted", halted };
      note("protocol-halted", tap ? `${reason} (a tap: the proxy still forwards this leg's bytes)` : reason);
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
