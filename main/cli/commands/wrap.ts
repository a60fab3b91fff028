/**
 * `wirescope wrap -- <command> [args...]`: the stdio tap. A program (an editor, an MCP client) starts this where it
 * would start a server over stdio; wrap runs the real command as a process session and relays its stdin, stdout and
 * stderr byte for byte, so that the conversation is what it would be without the tap, while both directions are
 * recorded into a capture in the workspace (see USAGE).
 */
import { constants as osConstants } from "node:os";
import type { Readable, Writable } from "node:stream";
import type { Bytes, ProcessExitReason } from "../../../core/index.ts";
import type { ProcessTap, RecordingProcessProtocol } from "../../engine/recording-process-protocol.ts";
import { helpHint, parseCommandLine, splitAtDashes } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { InterruptedError, UsageError } from "../errors.ts";
import { chooseProtocol, withDiagnostics } from "../protocol-ref.ts";
import type { CliRun } from "../run.ts";

/** The signals passed on to the command as they arrive. */
const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

const USAGE = `Usage: wirescope wrap [options] -- <command> [args...]

Runs <command> in place of the program that starts it (an editor starting a language server, an MCP client
starting a server) and relays its stdin, stdout and stderr byte for byte, with flow control: the conversation is
what it would be without wrap. Both directions are recorded into a capture in the workspace, as a process session
('wirescope show last' prints it). Nothing of wrap's own goes to stdout; where the capture is goes to stderr at the
end. The command runs in the current folder with this environment; its words are used as given.

Options:
  --protocol <p>        decode the conversation with a protocol, as a passive watcher: what the program sends the
                        command reaches it as fd 0, the command's stdout as fd 1 (a ProcessProtocol; a Protocol
                        gets stdout only); what it writes goes nowhere, not a byte of the relay changes. A
                        workspace file, a template ("template:lsp", "template:jsonl-rpc"), or a .ts file
                        elsewhere (copied to <workspace>/cli/ for the run). What it logs is in the capture.
  --name <name>         the session's name in the capture (default: the program's name)
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

SIGINT, SIGTERM and SIGHUP are passed on to the command; wrap ends when it has ended (every pipe closed). When
the program closes wrap's stdout or stderr, wrap stops the command (SIGTERM, then SIGKILL) and ends.

Exit codes: the command's own exit code, or 128 + the signal's number if a signal ended it; 141 (128 + SIGPIPE, as
for a writer whose reader went away) when wrap's stdout or stderr was closed; 1 the command could not be run (not
found, not executable); 2 usage error; 3 the protocol does not compile.
`;

const OPTIONS = {
  workspace: { type: "string" },
  help: { type: "boolean", short: "h" },
  name: { type: "string" },
  protocol: { type: "string" },
} as const;

/** `wrap`. */
export const wrapCommand: CliCommand = {
  name: "wrap",
  summary: "run a command in place of a stdio server, relaying and recording its stdin, stdout and stderr",
  usage: USAGE,
  prepare(argv) {
    const { own, command } = splitAtDashes(argv);
    const { values } = parseCommandLine("wrap", own, OPTIONS, { names: [], required: 0 });
    if (values.help !== true && command.length === 0) {
      throw new UsageError(
        "wrap: missing the command: put it after --, as in 'wirescope wrap -- pylsp'",
        helpHint("wrap"),
      );
    }
    return preparedCommand(values, (run) => wrap(run, command, values.name, values.protocol));
  },
};

async function wrap(
  run: CliRun,
  argv: string[],
  name: string | undefined,
  protocol: string | undefined,
): Promise<number> {
  const choice = await chooseProtocol(run, "wrap", protocol);
  const relay = new StdioRelay(process.stdin, process.stdout, process.stderr);
  const forward = (signal: NodeJS.Signals): void => relay.signal(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  // main.ts aborts the run when stdout's reader went away (EPIPE); an interrupt is forwarded above instead.
  const aborted = (): void => {
    if (!(run.signal.reason instanceof InterruptedError)) relay.outputLost();
  };
  run.signal.addEventListener("abort", aborted);
  // Kept to the end of the process: the run's last line (where the capture is) goes to stderr too.
  process.stderr.on("error", () => relay.outputLost());
  try {
    // In-process, not through the contract: the tap sees the child's pipes as they flow.
    const info = await withDiagnostics(run.service, [choice], () =>
      run.engine.spawn(
        { argv, cwd: process.cwd(), env: {}, protocol: choice?.ref ?? null, ...(name !== undefined ? { name } : {}) },
        relay,
      ),
    );
    run.keepCapture(info.id);
    const reason = await relay.ended;
    return relay.lostOutput ? 128 + osConstants.signals.SIGPIPE : exitCodeOf(reason);
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
    run.signal.removeEventListener("abort", aborted);
  }
}

/** The child's exit code, or 128 + the number of the signal that ended it, as a shell reports it. */
function exitCodeOf(reason: ProcessExitReason): number {
  if (reason.signal === null) return reason.exitCode ?? 1;
  return 128 + (osConstants.signals[reason.signal as NodeJS.Signals] ?? 0);
}

/**
 * Relays wrap's own stdio to the child's pipes and back, with flow control both ways: wrap's stdin is paused while
 * the child doesn't read its stdin, and the child's output is paused while wrap's stdout or stderr can't take more.
 * What goes to the child is written through its protocol, so it is recorded.
 */
class StdioRelay implements ProcessTap {
  readonly ended: Promise<ProcessExitReason>;
  #resolveEnded!: (reason: ProcessExitReason) => void;
  #child: RecordingProcessProtocol | null = null;
  /** Outputs the child's output waits for (their "drain"). */
  readonly #full = new Set<Writable>();
  #lostOutput = false;

  constructor(
    private readonly stdin: Readable,
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  /** Whether wrap's stdout or stderr went away while the child ran (see `outputLost`). */
  get lostOutput(): boolean {
    return this.#lostOutput;
  }

  started(child: RecordingProcessProtocol): void {
    this.#child = child;
    if (this.#lostOutput) void child.stop();
    this.stdin.on("data", (chunk: Buffer) => {
      if (child.acceptsInput) child.write(chunk);
    });
    this.stdin.once("end", () => {
      if (child.acceptsInput) child.closeStdin();
    });
    // A reader of ours that went away is the end of our input, nothing to report.
    this.stdin.on("error", () => {});
  }

  childDataReceived(childFD: number, data: Bytes): void {
    // Nowhere to go: recorded, and dropped while the child stops.
    if (this.#lostOutput) return;
    const out = childFD === 2 ? this.stderr : this.stdout;
    if (out.write(data) || this.#full.has(out)) return;
    this.#full.add(out);
    if (this.#full.size === 1) this.#child?.pauseReading("tap");
    out.once("drain", () => {
      this.#full.delete(out);
      if (this.#full.size === 0) this.#child?.resumeReading("tap");
    });
  }

  stdinPaused(paused: boolean): void {
    if (paused) this.stdin.pause();
    else this.stdin.resume();
  }

  processEnded(reason: ProcessExitReason): void {
    this.stdin.pause();
    this.#resolveEnded(reason);
  }

  /**
   * Called when wrap's stdout or stderr went away (their reader closed them: EPIPE). Nothing more can be relayed,
   * and no "drain" will come: the child's output is read again (recorded, then dropped) and the child is stopped
   * (SIGTERM, then SIGKILL), so that `ended` resolves.
   */
  outputLost(): void {
    if (this.#lostOutput) return;
    this.#lostOutput = true;
    this.#full.clear();
    const child = this.#child;
    if (child === null) return;
    child.resumeReading("tap");
    void child.stop();
  }

  /** Passes `signal` on to the child, while it runs. */
  signal(signal: NodeJS.Signals): void {
    try {
      if (this.#child?.pid != null) this.#child.signal(signal);
    } catch {
      // It exited meanwhile: its end is on its way.
    }
  }
}
