/**
 * `wirescope show <capture|last>`: prints a capture's timeline in the format every other command prints (the same
 * lines, the same `--json` objects with the `dir` field on data events), so that a capture can be read without the
 * app, as `tshark -r` reads a pcap. A Wirescope capture shows every connection (or one, with --conn); a pcap/pcapng
 * shows one TCP conversation (--conversation).
 */
import { COMMON_OPTIONS, parseCommandLine, numberOption } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { EXIT } from "../errors.ts";
import { checkFilter, printMatching } from "../filtered-timeline.ts";
import { checkConnection, openNamedCapture } from "./open-capture.ts";

const USAGE = `Usage: wirescope show <capture> [options]

Prints a capture's timeline: every chunk with its direction and size, the connections' lifecycle, and what the
protocols decoded, as the command that recorded it printed it.

  <capture>             a Wirescope capture (path, name in <workspace>/captures, or "last": the newest recorded
                        by connect, listen, proxy or a replay), or a .pcap/.pcapng

Options:
  --conn <N>            only connection N (and nothing of the session itself)
  --filter <expr>       only the events that match, searched in the whole capture: in, out, data, lifecycle, log,
                        message, a word or "text", hex: de ad, conn == 3, size > 1KiB, t >= 1.5s,
                        latency > 10ms, a decoded field (command == "SET", args.1 ~ user); and, or, not, ( )
  --conversation <N>    for a pcap/pcapng: which TCP conversation (default 1; 'wirescope import' lists them)
  --json                one JSON object per event ({"kind":"data","dir":"in",...}), then a summary object
  --hex                 hex dumps under each chunk (with --json: data as "hex" instead of "base64")
  --workspace <folder>  as for every command

Exit codes: 0 printed; 2 usage error (no such file or connection, a filter that is wrong); 3 the file is not a capture that can be
read; 130 Ctrl+C stopped it before the end.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  conn: { type: "string" },
  conversation: { type: "string" },
  filter: { type: "string" },
} as const;

/** `show`. */
export const showCommand: CliCommand = {
  name: "show",
  summary: "print a capture's timeline (a .wscap, or a pcap/pcapng conversation)",
  usage: USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("show", argv, OPTIONS, { names: ["capture"], required: 1 });
    const conn = numberOption("show", "conn", values.conn, null);
    const conversation = numberOption("show", "conversation", values.conversation, 1);
    const filter = values.filter;
    if (filter !== undefined) checkFilter("show", filter);
    return preparedCommand(values, async (run) => {
      const { file, session } = await openNamedCapture(run, "show", positionals[0] ?? "", conversation);
      if (conn !== null) checkConnection(run, "show", file, session, conn);
      if (filter !== undefined) {
        await printMatching(run, session, filter, conn);
        return run.signal.aborted ? EXIT.interrupted : EXIT.ok;
      }
      await run.follow(session, undefined, conn === null ? undefined : (e) => e.conn === conn).drain();
      return run.signal.aborted ? EXIT.interrupted : EXIT.ok;
    });
  },
};
