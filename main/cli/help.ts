/**
 * The top-level usage: the commands, the options they share, and the exit codes (each command's own usage is in
 * its module).
 */
import type { CliCommand } from "./command.ts";

/** What `wirescope --help` prints. */
export function mainUsage(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const list = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
  return `Usage: wirescope <command> [options]

Wirescope's engine from a terminal: the same sessions, captures, protocols and workspace as the app.

Commands:
${list}

Run 'wirescope <command> --help' (or 'wirescope help <command>') for a command's options.

Every command takes:
  --json                JSON lines on stdout: one object per timeline event, then a summary object
  --hex                 hex dumps of the bytes (with --json: bytes as "hex" instead of "base64")
  --workspace <folder>  the workspace (default: $WIRESCOPE_WORKSPACE, else the one chosen in the app's Settings
                        (~/.config/wirescope/settings.json), else ~/Documents/Wirescope)

Output: stdout carries the timeline (or the JSON lines); notes, errors and where the capture is go to stderr.
Timeline lines read: <seconds since the first event> <#connection, -- for the session> then
"-> 14 B  <escaped bytes>" (sent), "<- 7 B ..." (received), a lifecycle event, or "<level>: <decoded message>".

Exit codes:
  0    done (for listen and proxy: stopped by Ctrl+C)
  1    a network or run failure: refused, reset, could not listen, a re-split decode that disagreed
  2    a usage error: the message says what was wrong, the next line what to type
  3    a bad input file: a capture that can't be read, a protocol that doesn't compile (file:line:col follow)
  130  Ctrl+C (or SIGTERM) stopped work that was asked for before it was done (input not all sent, an export
       or decode cut short); Ctrl+C that only ends a session meant to run until stopped exits 0
Ctrl+C closes the sessions cleanly, flushes their captures and prints where they are; a second Ctrl+C quits
at once.
`;
}
