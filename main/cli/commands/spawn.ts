/**
 * `wirescope spawn -- <command> [args...]`: a process session from a terminal, as `connect` is a client session. The
 * input goes to the child's stdin, the timeline (stdout and stderr with their fd) to stdout, and the CLI exits as
 * the child did (see USAGE).
 */
import { constants as osConstants } from "node:os";
import type { ErrorCode, SessionInfo } from "../../../preload/contract.ts";
import type { TimelineEvent } from "../../../preload/timeline.ts";
import { COMMON_OPTIONS, helpHint, intOption, parseCommandLine, splitAtDashes } from "../args.ts";
import { preparedCommand, sleep, type CliCommand } from "../command.ts";
import { EXIT, RunFailedError, UsageError } from "../errors.ts";
import { chooseProtocol, withDiagnostics } from "../protocol-ref.ts";
import type { CliRun } from "../run.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import { sendEach, sendsOf, sendStream, type Send } from "./input.ts";

/** How long a child has to end after Ctrl+C was passed on to it, before the end of the run stops it (ms). */
const INTERRUPT_WAIT_MS = 2000;
/** How often the wait for quiet looks at the child again (ms). */
const POLL_MS = 25;

const USAGE = `Usage: wirescope spawn [options] -- <command> [args...]

Runs a command as a process session: sends it what you give it on its stdin, and prints the timeline: what it
writes to stdout ("[fd 1]") and stderr ("[fd 2]"), what was written to its stdin ("[fd 0]"), each pipe closing,
its exit and its end. The session is recorded to a capture in the workspace. The command runs in the current
folder with this environment; its words are used as given (nothing is expanded: run 'sh -c ...' for a shell).

Options:
  --send <text>         write text to its stdin; escapes \\r \\n \\t \\0 \\\\ and \\xNN stand for one byte each
                        (repeatable; each is one write, in order)
  --send-hex <hex>      write bytes given as hex pairs ("de ad be ef"); may be mixed with --send
  --protocol <p>        run a protocol on the command's pipes: a ProcessProtocol (stdout and stderr with their fd,
                        what is sent as fd 0) or a Protocol (stdout as its stream, its writes to stdin); a
                        workspace file ("bc.ts"), a template ("template:bc", "template:lsp"), or a .ts file
                        elsewhere (copied to <workspace>/cli/ for the run). What it logs is on the timeline.
  --idle <ms>           once the input is sent, stop the command (SIGTERM, then SIGKILL) when nothing has passed
                        either way for this long (default: wait for it to end)
  --name <name>         the session's name in the capture (default: the program's name)
  --json                one JSON object per event (data events carry "fd"), and a summary object at the end
  --hex                 hex dumps under each chunk (with --json: data as "hex" instead of "base64")
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

Input: the --send and --send-hex values; without them and without --protocol, standard input when it is not a
terminal (a pipe or a file; use < /dev/null to send nothing), passed on as it arrives and held while the command doesn't read. Once
the input is all sent, the command's stdin is closed, as at the end of a pipe.

When it exits: when the command has ended (and every pipe closed), or --idle after the input, or at Ctrl+C,
which is passed on to the command as SIGINT.

Exit codes: the command's own exit code, or 128 + the signal's number if a signal ended it (130 for SIGINT);
1 the command could not be run (not found, not executable, no such folder); 2 usage error; 3 the protocol does not
compile.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  send: { type: "string", multiple: true },
  "send-hex": { type: "string", multiple: true },
  idle: { type: "string" },
  name: { type: "string" },
  protocol: { type: "string" },
} as const;

/** `spawn`. */
export const spawnCommand: CliCommand = {
  name: "spawn",
  summary: "run a command as a process session, send to its stdin, print its timeline",
  usage: USAGE,
  prepare(argv) {
    const { own, command } = splitAtDashes(argv);
    const help = own.some((w) => w === "--help" || w === "-h");
    if (command.length === 0 && !help) {
      throw new UsageError(
        "spawn: missing the command: put it after --, as in 'wirescope spawn -- bc -q'",
        helpHint("spawn"),
      );
    }
    const { values, order } = parseCommandLine("spawn", own, OPTIONS, { names: [], required: 0 });
    const sends = sendsOf("spawn", order);
    const idle = values.idle === undefined ? null : intOption("spawn", "idle", values.idle, 0, 86_400_000);
    return preparedCommand(values, (run) =>
      spawn(run, { argv: command, name: values.name, protocol: values.protocol, sends, idle }),
    );
  },
};

interface SpawnPlan {
  argv: string[];
  name: string | undefined;
  protocol: string | undefined;
  sends: Send[];
  idle: number | null;
}

async function spawn(run: CliRun, plan: SpawnPlan): Promise<number> {
  const { service, signal } = run;
  const choice = await chooseProtocol(run, "spawn", plan.protocol);
  const info = await withDiagnostics(service, [choice], () =>
    service.call("spawn", {
      argv: plan.argv,
      cwd: process.cwd(),
      env: {},
      protocol: choice?.ref ?? null,
      ...(plan.name !== undefined ? { name: plan.name } : {}),
    }),
  );
  run.keepCapture(info.id);
  const conn = info.connections[0]!.conn;
  const watch = new ConnectionWatch(conn);
  const stdinState = new StdinWatch(conn);
  run.follow(info, (e) => {
    watch.saw(e);
    stdinState.saw(e);
  });

  // A protocol drives the child itself: standard input is not read, so that its end doesn't close the child's stdin.
  const piped = plan.sends.length === 0 && plan.protocol === undefined && run.io.stdin.isTTY !== true;
  const stdin = piped ? run.io.stdin : null;
  const hasInput = plan.sends.length > 0 || stdin !== null;
  let sentAll: boolean;
  try {
    sentAll = stdin
      ? await sendStream(run, info.id, conn, stdin, watch.ended, () => stdinState.ready())
      : await sendEach(run, info.id, conn, plan.sends);
  } catch (err) {
    // The child closed its stdin, or ended, before taking all the input: what it did is on the timeline.
    if ((err as { code?: ErrorCode }).code !== "connection-closed") throw err;
    sentAll = false;
  }
  if (sentAll && hasInput && !watch.isEnded) {
    await service.call("halfCloseConnection", { session: info.id, conn }).catch(() => {});
  }
  watch.touch();
  while (!watch.isEnded && !signal.aborted) {
    const quiet = Date.now() - watch.lastActivity;
    if (plan.idle !== null && quiet >= plan.idle) {
      // Stopping takes at most the engine's grace periods; the end arrives on the timeline.
      await service.call("closeConnection", { session: info.id, conn }).catch(() => {});
      await watch.ended;
      break;
    }
    await sleep(plan.idle === null ? POLL_MS : Math.min(POLL_MS, plan.idle - quiet), signal);
  }
  if (!watch.isEnded) {
    // Ctrl+C: the child gets it too, as in a terminal's foreground job; the end of the run stops it if it stays.
    await service.call("signalProcess", { session: info.id, signal: "SIGINT" }).catch(() => {});
    await Promise.race([watch.ended, sleep(INTERRUPT_WAIT_MS, new AbortController().signal)]);
    if (!watch.isEnded) return EXIT.interrupted;
  }
  return exitCodeOf(await sessionInfo(run, info.id));
}

async function sessionInfo(run: CliRun, id: string): Promise<SessionInfo | undefined> {
  return (await run.service.call("listSessions", {})).find((s) => s.id === id);
}

/** The child's exit code, or 128 + the number of the signal that ended it, as a shell reports it. */
function exitCodeOf(info: SessionInfo | undefined): number {
  const ended = info?.process;
  if (ended?.exitCode !== undefined) return ended.exitCode;
  const number = ended?.signal === undefined ? undefined : osConstants.signals[ended.signal as NodeJS.Signals];
  if (number !== undefined) return 128 + number;
  throw new RunFailedError(`the command ended without an exit code: ${info?.connections.at(-1)?.reason ?? "?"}`);
}

/**
 * Whether the child's stdin can take more, read off the timeline: "paused" when it stopped reading and what is
 * sent would wait in the engine's memory, "resumed" when it reads again. Piped input is held meanwhile.
 */
class StdinWatch {
  #paused = false;
  #resume: (() => void) | null = null;
  #resumed: Promise<void> = Promise.resolve();

  constructor(private readonly conn: number) {}

  saw(e: TimelineEvent): void {
    if (e.conn !== this.conn || e.kind !== "lifecycle") return;
    if (e.event === "paused" && !this.#paused) {
      this.#paused = true;
      this.#resumed = new Promise((resolve) => (this.#resume = resolve));
    } else if ((e.event === "resumed" || e.event === "ended") && this.#paused) {
      this.#paused = false;
      this.#resume?.();
    }
  }

  /** Resolves when the child's stdin takes more: at once unless it is paused. */
  ready(): Promise<void> {
    return this.#resumed;
  }
}
