/**
 * The engine's errors: small classes with a stable `code` of preload/errors.ts's table, which crosses the contract
 * as `{ code, category, message }`. Messages say what was wrong and what to do.
 */
import type { ArgumentIssue, ErrorCode } from "../../preload/errors.ts";

/** Base of every engine error. */
export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A session id that doesn't exist (any more). */
export class UnknownSessionError extends EngineError {
  constructor(id: string) {
    super("unknown-session", `There is no session '${id}': it may have been removed. Refresh the session list.`);
  }
}

/** One session more than the engine keeps (MAX_SESSIONS): the list every client receives must stay small. */
export class TooManySessionsError extends EngineError {
  constructor(max: number) {
    super(
      "too-many-sessions",
      `There are ${max} sessions, the most the engine keeps: remove sessions you no longer need, then try again.`,
    );
  }
}

/** A connection number that doesn't exist in a session. */
export class UnknownConnectionError extends EngineError {
  constructor(session: string, conn: number) {
    super("unknown-connection", `Session '${session}' has no connection ${conn}.`);
  }
}

/** An operation that needs an open connection, on a closed one. */
export class ConnectionClosedError extends EngineError {
  constructor(session: string, conn: number, what: string) {
    super("connection-closed", `Connection ${conn} of session '${session}' is closed: can't ${what}. Reconnect first.`);
  }
}

/** A socket operation on a session that only shows recorded traffic (imported, decoded). */
export class OfflineSessionError extends EngineError {
  constructor(session: string, what: string) {
    super(
      "offline-session",
      `Session '${session}' shows recorded traffic and has no sockets: can't ${what}. Replay it to send its bytes to a peer.`,
    );
  }
}

/**
 * A certificate or key file the user gave for TLS that can't be used (not a key, not a certificate, not the key's
 * certificate, unreadable). Crosses the contract with `issues` naming the field, so a form shows it there.
 */
export class BadCertificateError extends EngineError {
  readonly issues: ArgumentIssue[];
  constructor(field: "tls.certFile" | "tls.keyFile", message: string, cause?: unknown) {
    super("bad-certificate", message, { cause });
    this.issues = [{ path: field, message }];
  }
}

/** A process session's command could not be run: no such program, not executable, no such working folder. */
export class SpawnFailedError extends EngineError {
  constructor(command: string, reason: string, options?: { cause?: unknown }) {
    super("spawn-failed", `Could not run ${command}: ${reason}`, options);
  }
}

/** A process command (a signal) on a session that runs no process. */
export class NotAProcessError extends EngineError {
  constructor(session: string, what: string) {
    super("not-a-process", `Session '${session}' runs no process: can't ${what}. Choose a process session.`);
  }
}

/**
 * A filter (findTimeline, `show --filter`) that doesn't parse: the message says what and at which column; `issues`
 * puts it on the filter field.
 */
export class BadFilterError extends EngineError {
  readonly issues: ArgumentIssue[];
  constructor(
    message: string,
    /** Where the mistake is, from 1. */
    readonly column: number,
  ) {
    super("bad-filter", `The filter is wrong ${message}`);
    this.issues = [{ path: "filter", message }];
  }
}
