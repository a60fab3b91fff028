/**
 * `wirescope decode <capture> --protocol file.ts`: a protocol run over a recorded conversation as a passive decoder
 * (the engine's decode), printing the decoded timeline; `--resplit` re-splits the stream at random points and says
 * whether the protocol decoded the same every time. `runDecode` is shared with `import --decode`.
 */
import type { SessionInfo } from "../../../preload/contract.ts";
import { COMMON_OPTIONS, choiceOption, helpHint, intOption, numberOption, parseCommandLine } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { EXIT, RunFailedError, UsageError } from "../errors.ts";
import { chooseProtocol, withDiagnostics } from "../protocol-ref.ts";
import type { CliRun } from "../run.ts";
import { checkConnection, openNamedCapture } from "./open-capture.ts";

const SIDES = ["client", "server", "both"] as const;
export type DecodeSide = (typeof SIDES)[number];

/** `--resplit runs[:seed]`, read. */
export interface ResplitOption {
  runs: number;
  seed: number;
}

/** Options decode and `import --decode` share, with their help lines. */
export const DECODE_OPTIONS = {
  side: { type: "string" },
  resplit: { type: "string" },
} as const;

export const DECODE_HELP = `  --side <s>            client: the protocol plays the client and reads what the server sent (default);
                        server: the reverse; both: one instance each way
  --resplit <runs[:seed]>  also decode the stream re-split at random points <runs> times (seed: to repeat a
                        run; default random, printed) and report whether every run decoded the same`;

const USAGE = `Usage: wirescope decode <capture> --protocol <file.ts> [options]

Runs a protocol over a recorded conversation as a passive decoder (it sends nothing; what it would write is
logged), on a clock at the original timing, and prints the decoded timeline. No server needed.

  <capture>             a Wirescope capture (path, name in <workspace>/captures, or "last": the newest recorded
                        by connect, listen, proxy or a replay), or a .pcap/.pcapng

Options:
  --protocol <p>        the protocol: a workspace file, a template ("template:resp"), or a .ts file elsewhere
                        (copied to <workspace>/cli/ for the run)
${DECODE_HELP}
  --conn <N>            for a Wirescope capture: which connection (default: the first that connected)
  --conversation <N>    for a pcap/pcapng: which TCP conversation (default 1; 'wirescope import' lists them)
  --json, --hex, --workspace <folder>   as for every command

Exit codes: 0 decoded (and, with --resplit, every run agreed); 1 the re-split runs disagreed, or the decode
failed; 2 usage error; 3 the capture can't be read or the protocol doesn't compile; 130 Ctrl+C (or SIGTERM)
stopped it before it was done.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...DECODE_OPTIONS,
  protocol: { type: "string" },
  conn: { type: "string" },
  conversation: { type: "string" },
} as const;

/** Reads --side and --resplit for `command`. */
export function decodeOptions(
  command: string,
  values: { side?: string; resplit?: string },
): { side: DecodeSide; resplit: ResplitOption | null } {
  const side = values.side === undefined ? "client" : choiceOption(command, "side", values.side, SIDES);
  if (values.resplit === undefined) return { side, resplit: null };
  const [runs, seed, extra] = values.resplit.split(":");
  if (extra !== undefined || runs === undefined) {
    throw new UsageError(`${command}: --resplit is runs or runs:seed, got '${values.resplit}'`, helpHint(command));
  }
  return {
    side,
    resplit: {
      runs: intOption(command, "resplit", runs, 1, 1000),
      seed:
        seed === undefined
          ? Math.floor(Math.random() * 2 ** 31)
          : intOption(command, "resplit seed", seed, 0, Number.MAX_SAFE_INTEGER),
    },
  };
}

/** `decode`. */
export const decodeCommand: CliCommand = {
  name: "decode",
  summary: "run a protocol over a recorded conversation as a passive decoder",
  usage: USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("decode", argv, OPTIONS, { names: ["capture"], required: 1 });
    if (values.help !== true && values.protocol === undefined) {
      throw new UsageError("decode: --protocol is required: which protocol decodes the traffic?", helpHint("decode"));
    }
    const { side, resplit } = decodeOptions("decode", values);
    const conn = numberOption("decode", "conn", values.conn, null);
    const conversation = numberOption("decode", "conversation", values.conversation, 1);
    return preparedCommand(values, async (run) => {
      const { file, session } = await openNamedCapture(run, "decode", positionals[0] ?? "", conversation);
      const chosen = conn ?? firstConnected(run, session);
      checkConnection(run, "decode", file, session, chosen);
      return runDecode(run, "decode", session, chosen, values.protocol ?? "", side, resplit);
    });
  },
};

/** The first connection that has TCP addresses (connected), else 1: of all of them, not only the listed ones. */
function firstConnected(run: CliRun, session: SessionInfo): number {
  return run.engine.connectionsOf(session.id).find((c) => c.peer.includes(":") && c.host.includes(":"))?.conn ?? 1;
}

/**
 * Decodes connection `conn` of `session` with `protocol`, prints the decode session's timeline and the re-split
 * report. Returns 1 when re-split runs disagreed.
 */
export async function runDecode(
  run: CliRun,
  command: string,
  session: SessionInfo,
  conn: number,
  protocol: string,
  side: DecodeSide,
  resplit: ResplitOption | null,
): Promise<number> {
  const choice = await chooseProtocol(run, command, protocol);
  const result = await withDiagnostics(run.service, [choice], () =>
    run.service.call("decode", {
      session: session.id,
      conn,
      protocol: choice.ref,
      side,
      ...(resplit !== null ? { resplit } : {}),
    }),
  );
  run.keepCapture(result.session.id);
  await run.follow(result.session).drain();
  const report = result.resplit;
  if (report === undefined) return run.signal.aborted ? EXIT.interrupted : EXIT.ok;
  const verdict = report.consistent
    ? `every run decoded the same`
    : `${report.mismatches.length} run(s) decoded differently`;
  const lines = [`re-split: ${report.runs} runs, seed ${report.seed}: ${verdict}`];
  for (const m of report.mismatches) lines.push(`  run ${m.run}: ${m.message}`);
  run.announce(lines.join("\n"), { kind: "resplit", ...report });
  if (!report.consistent) {
    throw new RunFailedError(
      `the protocol decoded differently when the stream was re-split (seed ${report.seed}): a framing bug`,
    );
  }
  return run.signal.aborted ? EXIT.interrupted : EXIT.ok;
}
