/**
 * `wirescope export <capture>`: a recorded session (or one connection of it) as a pcapng file that Wireshark and
 * tshark open, through the engine's exportPcapng.
 */
import { copyFile, rm, stat } from "node:fs/promises";
import * as path from "node:path";
import { COMMON_OPTIONS, helpHint, numberOption, parseCommandLine } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { EXIT, RunFailedError, UsageError } from "../errors.ts";
import type { CliRun } from "../run.ts";
import { checkConnection, openNamedCapture } from "./open-capture.ts";

const USAGE = `Usage: wirescope export <capture> [-o out.pcapng] [--conn N]

Writes a capture as pcapng (synthesized Ethernet/IPv4/TCP packets, both directions, handshake and close, decoded
messages as packet comments), for Wireshark and tshark.

  <capture>             a Wirescope capture: its path, its name in <workspace>/captures, or "last" (the newest
                        recorded by connect, listen, proxy or a replay, with traffic on a connection);
                        a .pcap/.pcapng file works too (then --conversation picks which)

Options:
  -o, --output <file>   where to write (default: the workspace's exports folder; the path is printed)
  --conn <N>            only connection N (default: every connection)
  --conversation <N>    for a pcap/pcapng input: which TCP conversation (default 1)
  --json                print {"kind":"export","path":...,"packets":...,"bytes":...} and a summary
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

Exit codes: 0 written; 1 the export failed; 2 usage error (no such file or connection, no folder for -o);
3 the capture can't be read; 130 Ctrl+C (or SIGTERM) stopped it before it was done (a partial file is removed).
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  output: { type: "string", short: "o" },
  conn: { type: "string" },
  conversation: { type: "string" },
} as const;

/** `export`. */
export const exportCommand: CliCommand = {
  name: "export",
  summary: "write a capture as pcapng for Wireshark and tshark",
  usage: USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("export", argv, OPTIONS, { names: ["capture"], required: 1 });
    const conn = numberOption("export", "conn", values.conn, undefined);
    const conversation = numberOption("export", "conversation", values.conversation, 1);
    return preparedCommand(values, (run) =>
      exportCapture(run, positionals[0] ?? "", values.output, conn, conversation),
    );
  },
};

async function exportCapture(
  run: CliRun,
  capture: string,
  output: string | undefined,
  conn: number | undefined,
  conversation: number,
): Promise<number> {
  const target = output === undefined ? undefined : await checkOutput(output);
  const { file, session } = await openNamedCapture(run, "export", capture, conversation);
  if (conn !== undefined) checkConnection(run, "export", file, session, conn);
  const result = await run.service.call("exportPcapng", {
    session: session.id,
    ...(conn !== undefined ? { conn } : {}),
  });
  let written = result.path;
  if (target !== undefined && target !== result.path) {
    try {
      await copyFile(result.path, target);
    } catch (err) {
      throw new RunFailedError(
        `export: could not write ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { cause: err },
      );
    } finally {
      await rm(result.path, { force: true });
    }
    written = target;
  }
  const what = conn === undefined ? "every connection" : `connection ${conn}`;
  run.announce(
    `wrote ${written}: ${result.packets} packets, ${result.bytes} bytes (${what} of ${path.basename(file)})`,
    {
      kind: "export",
      path: written,
      packets: result.packets,
      bytes: result.bytes,
      source: file,
      ...(conn !== undefined ? { conn } : {}),
    },
  );
  return run.signal.aborted ? EXIT.interrupted : EXIT.ok;
}

/**
 * The absolute path `-o` names, checked before anything is exported: its folder must exist (it is not created:
 * a typo in a path should not leave folders behind) and the path must not be a folder. Throws UsageError.
 */
async function checkOutput(output: string): Promise<string> {
  const target = path.resolve(output);
  const folder = path.dirname(target);
  const info = await stat(folder).catch(() => null);
  if (info === null || !info.isDirectory()) {
    throw new UsageError(
      `export: -o ${output}: the folder ${folder} ${info === null ? "does not exist" : "is not a folder"}`,
      `Create the folder first (mkdir -p ${folder}), or give -o a file in a folder that exists. ${helpHint("export")}`,
    );
  }
  if ((await stat(target).catch(() => null))?.isDirectory()) {
    throw new UsageError(
      `export: -o ${output} is a folder`,
      `Give -o a file name, such as ${path.join(target, "capture.pcapng")}. ${helpHint("export")}`,
    );
  }
  return target;
}
