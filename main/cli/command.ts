/**
 * The shape of a subcommand: its name, its usage text (what `--help` prints), and how it reads its command line
 * into something to run. Reading happens before the engine opens, so a usage error never touches the workspace.
 */
import type { CliRun } from "./run.ts";

/** Options every subcommand takes (see args.ts's COMMON_OPTIONS). */
export interface CommonOptions {
  json: boolean;
  hex: boolean;
  /** `--workspace <folder>`; else $WIRESCOPE_WORKSPACE, else the one saved in Settings, else the default. */
  workspace: string | undefined;
}

/** A command line, read and checked: ready to run in a CliRun. */
export interface PreparedCommand {
  common: CommonOptions;
  /** `--help` was given: print the usage and run nothing. */
  help: boolean;
  /** Runs the command; resolves with the exit code, or throws (a CliError, an engine error). */
  run(run: CliRun): Promise<number>;
}

/** One subcommand. */
export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full usage text, ending with a newline. */
  usage: string;
  /** Reads the words after the subcommand's name. Throws UsageError. */
  prepare(argv: string[]): PreparedCommand;
}

/**
 * What a subcommand's `prepare` returns once its command line is read: the common options and --help out of
 * `values` (parsed with COMMON_OPTIONS), and `run`, which only runs when --help was not given.
 */
export function preparedCommand(
  values: { json?: boolean; hex?: boolean; workspace?: string; help?: boolean },
  run: PreparedCommand["run"],
): PreparedCommand {
  return {
    common: { json: values.json === true, hex: values.hex === true, workspace: values.workspace },
    help: values.help === true,
    run,
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Resolves when `signal` aborts (Ctrl+C). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
