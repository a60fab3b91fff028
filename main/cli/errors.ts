/**
 * The CLI's exit codes and its errors. Every failure the CLI reports is one of these classes (or an engine error
 * mapped onto one by `exitCodeOf`), so that a script can tell a typo from a dead server from a bad file.
 */
import type { Diagnostic } from "../../preload/contract.ts";

/** What the process exits with. Documented in `wirescope --help` and README.md ("Command line"). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** A network or run failure: refused, reset, timed out, a session that could not start. */
  failed: 1,
  /** A usage error: a wrong option or argument. The message says what and the hint what to type. */
  usage: 2,
  /** A bad input file: a capture that can't be read, a protocol that doesn't compile. */
  badInput: 3,
  /** Ctrl+C (or SIGTERM) interrupted work that was asked for before it was done. */
  interrupted: 130,
} as const;

/** Base of the CLI's errors: a stable `code` (as the engine's), a message, and the exit code it leads to. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A wrong command line. `hint` says what to type instead (usually which --help to read). */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super("usage", message, EXIT.usage);
  }
}

/** An input file the CLI can't use. `diagnostics` (a protocol's compile errors) are printed as file:line:col. */
export class BadInputError extends CliError {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
    options?: { cause?: unknown },
  ) {
    super("bad-input-file", message, EXIT.badInput, options);
  }
}

/** The run failed (a refused connection, a reset, a listener that could not bind). */
export class RunFailedError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("run-failed", message, EXIT.failed, options);
  }
}

/**
 * Ctrl+C or SIGTERM stopped the command before it was done. main.ts aborts the run's signal with one as the reason,
 * so a long read in the engine (stop-check.ts) throws it; it crosses the contract as its code, "interrupted".
 */
export class InterruptedError extends CliError {
  constructor(signal: NodeJS.Signals) {
    const by = signal === "SIGINT" ? "Ctrl+C (SIGINT)" : signal;
    super("interrupted", `stopped by ${by} before the command was done`, EXIT.interrupted);
  }
}

/** Engine error codes that mean the user typed something wrong. */
const USAGE_CODES = new Set([
  "invalid-arguments",
  "bad-endpoint",
  "bad-input",
  "INVALID_PATH",
  "NOT_FOUND",
  "UNKNOWN_TEMPLATE",
  // A --conn the session doesn't have (the commands check first and name the connections there are).
  "unknown-connection",
  // --workspace (or the saved workspace) names a file, or is not a usable path.
  "invalid-workspace",
]);

/** Engine error codes that mean an input file is bad. */
const BAD_INPUT_CODES = new Set([
  "compile-error",
  "protocol-error",
  "NOT_A_CAPTURE",
  "NEWER_VERSION",
  "CORRUPT",
  "recording-not-found",
  "not-a-tcp-conversation",
  "bad-capture",
  "capture-unreadable",
]);

/**
 * The exit code for anything thrown: a CliError's own; an engine error's by its code (usage, bad input, else a
 * run failure); 1 for anything else. Codes the CLI doesn't know (a new engine error) count as run failures, never
 * as success.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  if (typeof code === "string") {
    if (code === "interrupted") return EXIT.interrupted;
    if (USAGE_CODES.has(code)) return EXIT.usage;
    if (BAD_INPUT_CODES.has(code)) return EXIT.badInput;
  }
  return EXIT.failed;
}
