/**
 * The CLI's entry point (`npx wirescope ...`, bin/wirescope.js): reads the subcommand, opens the engine in-process
 * on the workspace, runs the command, and ends every run the same way — timelines printed to the end, sessions
 * closed, captures flushed and reported — whether the command finished, failed, or was stopped by Ctrl+C/SIGTERM.
 *
 * Runs under plain Node; never imports electron.
 */
import * as path from "node:path";
import { savedWorkspace } from "../settings/settings.ts";
import { helpHint } from "./args.ts";
import type { CliCommand } from "./command.ts";
import { caCommand } from "./commands/ca.ts";
import { connectCommand } from "./commands/connect.ts";
import { decodeCommand } from "./commands/decode.ts";
import { exportCommand } from "./commands/export.ts";
import { importCommand } from "./commands/import.ts";
import { listenCommand, proxyCommand } from "./commands/listen.ts";
import { showCommand } from "./commands/show.ts";
import { BadInputError, EXIT, InterruptedError, UsageError, exitCodeOf } from "./errors.ts";
import { mainUsage } from "./help.ts";
import { CliRun, type CliIo } from "./run.ts";

const COMMANDS: readonly CliCommand[] = [
  connectCommand,
  listenCommand,
  proxyCommand,
  exportCommand,
  importCommand,
  decodeCommand,
  showCommand,
  caCommand,
];

/**
 * Runs the CLI with `argv` (the words after "wirescope") and resolves with the exit code. `signal` aborts on
 * Ctrl+C; the caller exits the process.
 */
export async function runCli(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the usage goes where errors go, so a script's stdout stays empty.
    io.stderr.write(mainUsage(COMMANDS));
    return EXIT.usage;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? topic.usage : mainUsage(COMMANDS));
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  let prepared;
  try {
    if (!command) {
      throw new UsageError(`'${name}' is not a wirescope command`, "Run 'wirescope --help' for the commands.");
    }
    prepared = command.prepare(rest);
  } catch (err) {
    return report(io, err, command?.name);
  }
  if (prepared.help) {
    io.stdout.write(command.usage);
    return EXIT.ok;
  }
  let run: CliRun;
  try {
    // --workspace (from the shell's current folder), else $WIRESCOPE_WORKSPACE, else the one chosen in Settings.
    const given = prepared.common.workspace;
    const workspace = given !== undefined ? path.resolve(given) : await savedWorkspace();
    run = await CliRun.open(workspace, io, prepared.common, signal);
  } catch (err) {
    return report(io, err, command.name);
  }
  let exitCode: number;
  let error: string | null = null;
  try {
    exitCode = await prepared.run(run);
  } catch (err) {
    exitCode = report(io, err, command.name);
    error = (err as Error).message;
  }
  return run.finish(exitCode, error);
}

/**
 * Prints what went wrong on stderr (with a usage error, what to type; with a bad protocol file, its diagnostics as
 * file:line:col) and returns the exit code. `command` is the subcommand, when it is known.
 */
function report(io: CliIo, err: unknown, command?: string): number {
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`wirescope: ${message}\n`);
  const code = exitCodeOf(err);
  if (err instanceof UsageError) io.stderr.write(`${err.hint}\n`);
  else if (code === EXIT.usage && command !== undefined) io.stderr.write(`${helpHint(command)}\n`);
  if (err instanceof BadInputError) {
    for (const d of err.diagnostics) io.stderr.write(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}\n`);
  }
  if (code === EXIT.failed && !(err instanceof Error && "code" in err)) {
    // Not an error the CLI or the engine describes: keep the stack for a bug report.
    io.stderr.write(`${err instanceof Error ? err.stack : ""}\n`);
  }
  return code;
}

/** Runs the process: argv, signals, and the exit once stdout has been written out. */
async function main(): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    signals += 1;
    // The reason is what a long read in the engine throws (stop-check.ts), and what the run reports.
    if (signals === 1) {
      process.stderr.write(`wirescope: ${signal}: stopping (press Ctrl+C again to quit at once)\n`);
      controller.abort(new InterruptedError(signal));
    }
    // A second Ctrl+C while closing: leave now (the capture is append-only; what was written stays readable).
    else process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // A reader that went away (`| head`) is not an error worth a stack.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") controller.abort();
  });
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  const code = await runCli(process.argv.slice(2), io, controller.signal);
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}

await main();
