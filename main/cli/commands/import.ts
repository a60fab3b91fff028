/**
 * `wirescope import <file.pcap[ng]>`: reads a capture made by tcpdump, tshark or Wireshark, lists its TCP
 * conversations; `--open N` prints one's timeline, `--decode file.ts` runs a protocol over it.
 */
import * as path from "node:path";
import type { CommandResult, ConversationSummary } from "../../../preload/contract.ts";
import { COMMON_OPTIONS, helpHint, numberOption, parseCommandLine } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { EXIT, UsageError } from "../errors.ts";
import type { CliRun } from "../run.ts";
import { DECODE_HELP, DECODE_OPTIONS, decodeOptions, runDecode } from "./decode.ts";
import { locateCapture, openCapture } from "./open-capture.ts";

const USAGE = `Usage: wirescope import <file.pcap|file.pcapng> [--open N] [--decode file.ts]

Reads a pcap or pcapng capture (tcpdump, tshark, Wireshark), reassembles its TCP streams and lists the
conversations: number, client -> server, packets, bytes each way, duration, and whether it is complete.

Options:
  --open <N>            print conversation N's timeline
  --decode <p>          run a protocol over conversation N (--open, default 1) as a passive decoder and print
                        the decoded timeline: a workspace file, a template, or a .ts file elsewhere
${DECODE_HELP}
  --json                the listing as {"kind":"conversations",...}, then events and a summary as JSON lines
  --hex, --workspace <folder>   as for every command

Exit codes: 0 read; 1 a decode whose re-split runs disagreed; 2 usage error (no such file or conversation);
3 the file is not a capture this can read (the message says where it went wrong); 130 Ctrl+C (or SIGTERM)
stopped the read.
`;

const OPTIONS = { ...COMMON_OPTIONS, ...DECODE_OPTIONS, open: { type: "string" }, decode: { type: "string" } } as const;

/** `import`. */
export const importCommand: CliCommand = {
  name: "import",
  summary: "list a pcap/pcapng file's TCP conversations; open or decode one",
  usage: USAGE,
  prepare(argv) {
    const { values, positionals } = parseCommandLine("import", argv, OPTIONS, { names: ["file"], required: 1 });
    const open = numberOption("import", "open", values.open, null);
    const { side, resplit } = decodeOptions("import", values);
    if (values.decode === undefined && (values.side !== undefined || values.resplit !== undefined)) {
      throw new UsageError("import: --side and --resplit go with --decode", helpHint("import"));
    }
    return preparedCommand(values, async (run) => {
      const file = await locateCapture(run, "import", positionals[0] ?? "");
      const listing = await run.service.call("importCapture", { name: path.basename(file), path: file });
      printListing(run, listing);
      if (open === null && values.decode === undefined) return EXIT.ok;
      const { session } = await openCapture(run, "import", file, open ?? 1, listing);
      if (values.decode === undefined) {
        await run.follow(session).drain();
        return EXIT.ok;
      }
      return runDecode(run, "import", session, session.connections[0]?.conn ?? 1, values.decode, side, resplit);
    });
  },
};

function printListing(run: CliRun, listing: CommandResult<"importCapture">): void {
  const lines = [
    `${listing.name}: ${listing.format}, ${listing.packets} packets, ${listing.conversations.length} TCP conversation(s)`,
    ...listing.conversations.map(conversationLine),
  ];
  run.announce(lines.join("\n"), { kind: "conversations", ...listing });
  if (!run.options.json) for (const w of listing.warnings) run.note(`warning: ${w}`);
}

/** "  1  127.0.0.1:51234 -> 127.0.0.1:6379  12 packets  14 B >  7 B <  12.5 ms  complete". */
function conversationLine(c: ConversationSummary): string {
  const state = c.complete ? "complete" : "incomplete";
  const notes = c.notes.length > 0 ? `  (${c.notes.join("; ")})` : "";
  return (
    `  ${String(c.id).padStart(3)}  ${c.client} -> ${c.server}  ${c.packets} packets  ` +
    `${c.bytesToServer} B to server, ${c.bytesToClient} B to client  ${c.durationMs.toFixed(1)} ms  ${state}${notes}`
  );
}
