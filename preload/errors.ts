/**
 * Every error code that crosses the contract, defined once, each with its category: what a consumer does about it.
 * The engine throws these codes, the adapters carry them as `{ code, category, message }`, the workbench puts them
 * on form fields and the CLI turns the category into its exit code; none of them lists codes of its own.
 *
 * Spelling: Wirescope's own codes are kebab-case ("invalid-path"); the core's codes are Twisted's class names
 * ("ConnectionRefusedError", src/twisted/internet/error.py), Twisted's vocabulary, and are all "failed".
 * A test (tests/contract/error-codes.test.ts) checks that every code main/ throws and every core error is here.
 *
 * Depends on preload/ alone: shared by the engine, the workbench and the CLI.
 */
import { MAX_QUOTED_LENGTH, shorten } from "./limits.ts";

/**
 * What an error means for whoever sees it:
 * - "usage": the user typed or chose something wrong (a field, an option, a name that doesn't exist);
 * - "bad-input": an input file or protocol is bad (a capture that can't be read, a protocol that doesn't compile);
 * - "failed": the run failed (refused, reset, can't listen, a disk that refused a write);
 * - "interrupted": the user stopped the work (Ctrl+C) before it was done;
 * - "internal": Wirescope itself went wrong (a bug, a broken channel): nothing the user did.
 */
export type ErrorCategory = "usage" | "bad-input" | "failed" | "interrupted" | "internal";

/** Twisted's connection and process errors (core/errors.ts, core/endpoints.ts, core/process.ts): all "failed". */
const TWISTED_CODES = {
  ConnectionClosed: "failed",
  ConnectionDone: "failed",
  ConnectionLost: "failed",
  ConnectionAborted: "failed",
  ConnectError: "failed",
  ConnectBindError: "failed",
  UnknownHostError: "failed",
  NoRouteError: "failed",
  ConnectionRefusedError: "failed",
  TCPTimedOutError: "failed",
  BadFileError: "failed",
  ServiceNameUnknownError: "failed",
  UserError: "failed",
  TimeoutError: "failed",
  SSLError: "failed",
  DNSLookupError: "failed",
  CannotListenError: "failed",
  NotConnectingError: "failed",
  NotListeningError: "failed",
  AlreadyConnectingError: "failed",
  AlreadyCalled: "failed",
  AlreadyCancelled: "failed",
  ProcessEnded: "failed",
  ProcessDone: "failed",
  ProcessTerminated: "failed",
  ProcessExitedAlready: "failed",
  ProcessSpawnFailed: "failed",
  StringTooLongError: "failed",
  NetstringParseError: "failed",
  SpawnError: "failed",
  EndpointParseError: "failed",
  ConnectingCancelledError: "failed",
  NoProtocol: "failed",
  CannotStartTLSError: "failed",
} as const satisfies Record<string, "failed">;

/** Every code, with its category. Keys are the only spellings that compile where a code is thrown or compared. */
export const ERROR_CODES = {
  // The contract and its adapters (preload/, main/adapters/).
  "invalid-arguments": "usage",
  "unknown-command": "internal",
  "not-implemented": "internal",
  forbidden: "internal",
  "malformed-message": "internal",
  "codec-error": "internal",
  "ipc-failed": "internal",
  "result-too-large": "failed",
  disconnected: "failed",
  internal: "internal",

  // Sessions and connections (main/engine/).
  "unknown-session": "usage",
  "unknown-connection": "usage",
  "too-many-sessions": "usage",
  "connection-closed": "failed",
  "offline-session": "usage",
  "not-a-client": "usage",
  "already-connected": "usage",
  "bad-endpoint": "usage",
  "bad-send-input": "usage",
  "connect-failed": "failed",
  "cannot-listen": "failed",
  "bad-certificate": "bad-input",

  // Process sessions (main/engine/process-session.ts).
  "spawn-failed": "failed",
  "not-a-process": "usage",

  // Protocols (main/engine/, main/workspace/).
  "compile-error": "bad-input",
  "protocol-error": "bad-input",
  "no-protocol": "usage",
  "decoder-stopped": "failed",

  // Captures, decodes, replays (main/engine/, main/interchange/, main/recording/).
  "recording-not-found": "bad-input",
  "unknown-capture": "usage",
  "unknown-conversation": "usage",
  "capture-unreadable": "bad-input",
  "bad-capture": "bad-input",
  "not-a-tcp-conversation": "bad-input",
  "conversation-too-big": "bad-input",
  "not-a-replay": "usage",
  "bad-filter": "usage",
  "bad-address": "bad-input",
  "nothing-to-export": "usage",
  "export-names-exhausted": "failed",
  "not-a-capture": "bad-input",
  "newer-version": "bad-input",
  corrupt: "bad-input",
  "invalid-event": "internal",
  closed: "internal",

  // The workspace and settings (main/workspace/, main/settings/).
  "invalid-path": "usage",
  "not-found": "usage",
  "already-exists": "usage",
  "unknown-template": "usage",
  "no-template-source": "usage",
  "invalid-profile": "usage",
  "corrupt-profiles": "bad-input",
  "write-failed": "failed",
  "invalid-workspace": "usage",
  "workspace-unavailable": "failed",
  "settings-unwritable": "failed",

  // Wirescope's certificate authority (main/tls/).
  "ca-unreadable": "bad-input",
  "bad-server-name": "usage",

  // The CLI's own (main/cli/errors.ts) and its Ctrl+C, which crosses the contract from a long read.
  usage: "usage",
  "bad-input-file": "bad-input",
  "run-failed": "failed",
  interrupted: "interrupted",
  // A long command stopped by the contract's cancel (main/engine/operations.ts).
  cancelled: "interrupted",
  "operation-in-use": "usage",

  // The workbench's own, for a file it could not hand to the engine (renderer/src/lib/import-capture.ts).
  "empty-file": "bad-input",
  "file-too-big": "bad-input",
  "unreadable-file": "bad-input",

  ...TWISTED_CODES,
} as const satisfies Record<string, ErrorCategory>;

/** A code of the table: what `code` is typed as wherever an error is thrown, carried or compared. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * A group of the table's codes, for an error class that throws only those (`ErrorCodes<"invalid-path" | "not-found">`):
 * a spelling that is not in the table doesn't compile.
 */
export type ErrorCodes<T extends ErrorCode> = T;

/** Whether `code` is one of the table's (a code from elsewhere, such as Node's "ECONNRESET", is not). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** One wrong argument of a command: its dotted path ("target.port"; "" for the arguments as a whole) and why. */
export interface ArgumentIssue {
  path: string;
  message: string;
}

/**
 * What a person can act on, as every adapter answers it: a code of the table, its category, and a sentence.
 * `issues` comes with "invalid-arguments" (each wrong field, in the order the message names them) and with the
 * errors that blame one field of the arguments ("bad-certificate": "tls.keyFile"), so that a form puts each next to
 * its field without parsing the message.
 */
export interface ContractError {
  code: ErrorCode;
  category: ErrorCategory;
  message: string;
  issues?: ArgumentIssue[];
}

/** The ContractError for `code`, with the table's category. */
export function contractError(code: ErrorCode, message: string, issues?: ArgumentIssue[]): ContractError {
  return issues === undefined
    ? { code, category: ERROR_CODES[code], message }
    : { code, category: ERROR_CODES[code], message, issues };
}

/**
 * "invalid-arguments" for command `name`: the message names each issue ("connect: target.port: a port is from 0 to
 * 65535; the host is missing"), each cut to MAX_QUOTED_LENGTH characters, and `issues` carries them as they are.
 */
export function invalidArguments(name: string, issues: ArgumentIssue[]): ContractError {
  const details = issues.map(({ path, message }) =>
    shorten(path === "" ? message : `${path}: ${message}`, MAX_QUOTED_LENGTH),
  );
  return contractError("invalid-arguments", `${name}: ${details.join("; ")}`, issues);
}
