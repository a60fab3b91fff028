/**
 * A capture named on the command line, opened as a session: a Wirescope capture (.wscap) through openRecording,
 * or a pcap/pcapng file through importCapture and openConversation. Which one is decided by the file's first
 * bytes, not its name. The session is a read-only copy made for this run: its own capture is deleted at the end.
 */
import { open, stat } from "node:fs/promises";
import * as path from "node:path";
import type { CommandResult, SessionInfo } from "../../../preload/contract.ts";
import { capturesDir } from "../../workspace/layout.ts";
import { helpHint } from "../args.ts";
import { UsageError } from "../errors.ts";
import { lastRecordedCapture } from "../last-capture.ts";
import type { CliRun } from "../run.ts";

/** The first bytes of a Wirescope capture (capture-format.ts's MAGIC). */
const WSCAP_MAGIC = Buffer.from("\x89WSCAP\r\n", "latin1");

/**
 * What `capture` names, as an absolute path: "last" (the newest capture of recorded traffic in the workspace, see
 * last-capture.ts), a path from the shell's
 * current directory, or a file in <workspace>/captures. Absolute because the engine resolves relative paths inside
 * the workspace, not from the current directory.
 */
export async function locateCapture(run: CliRun, command: string, capture: string): Promise<string> {
  const captures = path.resolve(capturesDir(run.workspaceRoot));
  if (capture === "last") {
    const newest = await lastRecordedCapture(captures);
    if (newest === null) {
      throw new UsageError(
        `${command}: there is no capture of recorded traffic in ${captures} yet`,
        `Record some with 'wirescope connect', 'listen' or 'proxy', or name a capture file. ${helpHint(command)}`,
      );
    }
    return newest;
  }
  const candidates = [path.resolve(capture)];
  if (!path.isAbsolute(capture)) candidates.push(path.join(captures, capture));
  for (const candidate of candidates) {
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  throw new UsageError(
    `${command}: no file '${capture}' (looked at ${candidates.join(" and ")})`,
    `Give a .wscap, .pcap or .pcapng file, a capture's name in ${captures}, or 'last'. ${helpHint(command)}`,
  );
}

/** Whether `file` starts like a Wirescope capture. */
async function isWirescopeCapture(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(WSCAP_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(WSCAP_MAGIC);
  } finally {
    await handle.close();
  }
}

/** A capture opened as a session; `imported` is the pcap/pcapng import's listing, when it was one. */
export interface OpenedCapture {
  file: string;
  session: SessionInfo;
  imported?: CommandResult<"importCapture">;
}

/** The capture a command line names (`locateCapture`), opened as a session (`openCapture`). */
export async function openNamedCapture(
  run: CliRun,
  command: string,
  capture: string,
  conversation: number,
): Promise<OpenedCapture> {
  return openCapture(run, command, await locateCapture(run, command, capture), conversation);
}

/**
 * Opens `file` (from locateCapture) as a session. For a pcap/pcapng file (imported now, or `listing`), `conversation` (from 1) picks which TCP
 * conversation; a number past the last is a usage error listing how many there are.
 */
export async function openCapture(
  run: CliRun,
  command: string,
  file: string,
  conversation = 1,
  /** The file's import, when the caller has already made it. */
  listing?: CommandResult<"importCapture">,
): Promise<OpenedCapture> {
  if (await isWirescopeCapture(file)) {
    const session = await run.service.call("openRecording", { path: file });
    run.discardCapture(session.id);
    return { file, session };
  }
  const imported = listing ?? (await run.service.call("importCapture", { name: path.basename(file), path: file }));
  if (conversation > imported.conversations.length) {
    throw new UsageError(
      `${command}: ${path.basename(file)} has ${imported.conversations.length} TCP conversation(s), not ${conversation}`,
      `Run 'wirescope import ${file}' to list them. ${helpHint(command)}`,
    );
  }
  const session = await run.service.call("openConversation", { capture: imported.capture, conversation });
  run.discardCapture(session.id);
  return { file, session, imported };
}

/**
 * Checks that connection `conn` (from --conn) is one of `session`'s (every one, not only those its SessionInfo
 * lists), before the engine is asked for it: a usage error listing the connections there are, named as the user
 * knows them (the file, not the session's id).
 */
export function checkConnection(run: CliRun, command: string, file: string, session: SessionInfo, conn: number): void {
  const conns = run.engine.connectionsOf(session.id).map((c) => c.conn);
  if (conns.includes(conn)) return;
  const name = path.basename(file);
  const listed = runsOf(conns);
  const what = conns.length === 0 ? `${name} has no connections` : `${name} has connection(s) ${listed} (no ${conn})`;
  throw new UsageError(
    `${command}: ${what}`,
    conns.length === 0 ? helpHint(command) : `Give --conn one of ${listed}. ${helpHint(command)}`,
  );
}

/** Connection numbers as runs, so that thousands of them stay one short line: "1-210", "1, 3-5". */
function runsOf(conns: number[]): string {
  const sorted = [...conns].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(", ");
}
