/**
 * The CLI's exit codes and its errors. Every failure the CLI reports is one of these classes, or an engine error
 * whose code's category (preload/errors.ts) gives the exit code, so that a script can tell a typo from a dead server
 * from a bad file.
 */
import type { Diagnostic } from "../../preload/contract.ts";
import { ERROR_CODES, isErrorCode, type ErrorCategory, type ErrorCode } from "../../preload/errors.ts";

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

/**
 * What each category of error exits with: a mistake in what was typed 2, a bad file 3, a run that failed 1,
 * Ctrl+C 130; a fault of Wirescope's own 1, like a failed run (a script can't do better with it).
 */
export const EXIT_BY_CATEGORY = {
  usage: EXIT.usage,
  "bad-input": EXIT.badInput,
  failed: EXIT.failed,
  interrupted: EXIT.interrupted,
  internal: EXIT.failed,
} as const satisfies Record<ErrorCategory, number>;

/** Base of the CLI's errors: a stable `code` (as the engine's), a message, and the exit code its category gives. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = EXIT_BY_CATEGORY[ERROR_CODES[code]];
  }
}

/** A wrong command line. `hint` says what to type instead (usually which --help to read). */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super("usage", message);
  }
}

/** An input file the CLI can't use. `diagnostics` (a protocol's compile errors) are printed as file:line:col. */
export class BadInputError extends CliError {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
    options?: { cause?: unknown },
  ) {
    super("bad-input-file", message, options);
  }
}

/** The run failed (a refused connection, a reset, a listener that could not bind). */
export class RunFailedError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("run-failed", message, options);
  }
}

/**
 * Ctrl+C or SIGTERM stopped the command before it was done. main.ts aborts the run's signal with one as the reason,
 * so a long read in the engine (stop-check.ts) throws it; it crosses the contract as its code, "interrupted".
 */
export class InterruptedError extends CliError {
  constructor(signal: NodeJS.Signals) {
    const by = signal === "SIGINT" ? "Ctrl+C (SIGINT)" : signal;
    super("interrupted", `stopped by ${by} before the command was done`);
  }
}

/**
 * The exit code for anything thrown: a CliError's own; an engine error's by its code's category; 1 for anything
 * else (a code that is not in the table, such as Node's "EPIPE", counts as a run failure, never as success).
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return isErrorCode(code) ? EXIT_BY_CATEGORY[ERROR_CODES[code]] : EXIT.failed;
}
