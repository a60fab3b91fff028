/**
 * pcapng export of a recorded session: each of its TCP connections, or the one asked for, becomes a TCP
 * stream of synthesized packets (tcp-synth.ts) in one pcapng file (pcapng-writer.ts) that Wireshark and tshark
 * open. A proxy session's two legs are two streams: that is what was on the wire.
 *
 * The timeline is read a range at a time and the file written as packets are made, so exporting a session of any
 * size takes the memory of a range of events and a batch of blocks. Packets are in timeline order, except that
 * each connection's latest packet waits for its next one (TcpSynthesizer holds it for the notes that may follow).
 */
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { ConnectionInfo, SessionInfo } from "../../preload/contract.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { fileStem } from "../../preload/file-stem.ts";
import { quoteCommandLine } from "../../preload/command-line.ts";
import { ConversationError, ConversationTracker } from "./conversation.ts";
import { PcapngWriter, type PcapngPacket, type PcapngSection } from "./pcapng-writer.ts";
import { betweenBlocks, type ReportProgress } from "./stop-check.ts";
import { TcpSynthesizer } from "./tcp-synth.ts";
import type { ErrorCode } from "../../preload/errors.ts";

/** Events read from the timeline at a time. */
const READ_EVENTS = 4096;
/** How many names ("name-2.pcapng", ...) are tried before giving up on a folder full of them. */
const MAX_NAME_TRIES = 10_000;

/** What an export says about a session: its name for the file's, the rest for the file's comment. */
export type SessionHeader = Pick<SessionInfo, "id" | "kind" | "name" | "target" | "epochMs" | "recordedKind">;

/** A session as the export reads it: its description, its connections and its timeline, read by ranges. */
export interface RecordedSession {
  info: SessionHeader;
  /**
   * Every connection of the session (the engine's connectionsOf), not the at most MAX_LISTED_CONNECTIONS its
   * SessionInfo lists: those left out of the list are exported too.
   */
  connections: ConnectionInfo[];
  /** The Wirescope capture (.wscap) the session records to: where a process session's export points instead. */
  capture?: string;
  timeline: {
    /** Events on the timeline now; the export covers those. */
    readonly count: number;
    /** Events `from` .. `from + count - 1`, in order; fewer than asked is fine, none means the end. */
    read(from: number, count: number): Promise<TimelineEvent[]>;
  };
}

/** What an export wrote. */
export interface ExportResult {
  /** The new file's absolute path. */
  path: string;
  packets: number;
  /** The file's size. */
  bytes: number;
  /** Connections left out, each with why ("connection 2: never connected"). */
  skipped: string[];
}

/** A session (or connection) with no TCP connection to export; crosses the contract as "nothing-to-export". */
export class NothingToExportError extends Error {
  readonly code = "nothing-to-export" satisfies ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = "NothingToExportError";
  }
}

/** Every name an export could take is used; crosses the contract as "export-names-exhausted". */
export class ExportNameError extends Error {
  readonly code = "export-names-exhausted" satisfies ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = "ExportNameError";
  }
}

/** One connection being exported: its conversation as it comes, and its packets' maker once it opened. */
interface Stream {
  tracker: ConversationTracker;
  synth: TcpSynthesizer | null;
}

/**
 * Writes `session`'s TCP connections, or only connection `conn`, into a new pcapng file in `folder` (created if
 * missing), named after the session ("client-1.pcapng", "client-1-conn-2.pcapng"), never over an existing file
 * ("client-1-2.pcapng", ...). Connections without TCP addresses (a UNIX socket, one that never connected) are
 * left out and listed in `skipped` and in the file's comment. Throws NothingToExportError when nothing is left
 * (the file is then not created); a failure while writing removes the partial file, and so does `signal` (checked
 * between ranges of the timeline), whose reason is thrown once it is aborted. `progress` is told the events read so
 * far after each range.
 */
export async function exportSession(
  session: RecordedSession,
  folder: string,
  conn?: number,
  signal?: AbortSignal,
  progress?: ReportProgress,
): Promise<ExportResult> {
  const { info, connections } = session;
  if (info.kind === "process" || info.recordedKind === "process")
    throw new NothingToExportError(pipesMessage(info, session.capture));
  const chosen = conn === undefined ? connections : connections.filter((c) => c.conn === conn);
  if (conn !== undefined && chosen.length === 0) {
    throw new NothingToExportError(`Session '${info.name}' has no connection ${conn}: pick one from the session list.`);
  }
  const streams = new Map<number, Stream>();
  const skipped: string[] = [];
  for (const c of chosen) {
    try {
      streams.set(c.conn, { tracker: new ConversationTracker(c, info.epochMs), synth: null });
    } catch (err) {
      if (!(err instanceof ConversationError)) throw err;
      skipped.push(`connection ${c.conn}: ${whyNotTcp(c)}`);
    }
  }
  if (streams.size === 0) throw new NothingToExportError(nothingMessage(info, conn, skipped));

  await fsp.mkdir(folder, { recursive: true });
  const writer = await createExclusive(folder, fileStem(info, conn), {
    application: "Wirescope",
    comments: [
      `Wirescope ${info.kind} session '${info.name}' (${info.target})` +
        (conn === undefined ? "" : `, connection ${conn}`) +
        ": packets synthesized from its recording",
      ...skipped.map((s) => `not exported: ${s}`),
    ],
  });
  try {
    const write = async (packets: PcapngPacket[]): Promise<void> => {
      for (const p of packets) await writer.writePacket(p);
    };
    const total = session.timeline.count;
    for (let from = 0; from < total;) {
      const events = await session.timeline.read(from, Math.min(READ_EVENTS, total - from));
      if (events.length === 0) break;
      from += events.length;
      for (const e of events) {
        const stream = streams.get(e.conn);
        if (stream === undefined) continue;
        const made = stream.tracker.push(e);
        if (e.kind === "lifecycle" && e.event === "connected") await write(synthOf(stream).start());
        for (const ce of made) await write(synthOf(stream).push(ce));
      }
      progress?.(from, total);
      await betweenBlocks(signal);
    }
    for (const stream of streams.values()) await write(synthOf(stream).finish());
    await writer.close();
  } catch (err) {
    await writer.discard();
    throw err;
  }
  return { path: writer.file, packets: writer.packets, bytes: writer.bytes, skipped };
}

/** The stream's synthesizer, made once its conversation's header is known (at "connected" or its first event). */
function synthOf(stream: Stream): TcpSynthesizer {
  stream.synth ??= new TcpSynthesizer(stream.tracker.header());
  return stream.synth;
}

/** Why a connection has no TCP conversation, in a few words. */
function whyNotTcp(c: ConnectionInfo): string {
  if (c.host === "" && c.peer === "") return c.state === "connecting" ? "still connecting" : "never connected";
  return `not a TCP connection (${[c.host, c.peer].filter((a) => a !== "").join(" -> ")})`;
}

/**
 * Why a process session has no pcapng: its bytes went through pipes, which have no addresses, ports or link type for
 * a packet to carry; and where its bytes are instead (its capture, which `wirescope show` prints and the workbench
 * reopens).
 */
function pipesMessage(info: SessionHeader, capture: string | undefined): string {
  const where =
    capture === undefined
      ? "its Wirescope capture (.wscap) in the workspace's captures folder"
      : `its Wirescope capture ${capture}`;
  const show = `wirescope show --json ${capture === undefined ? "<capture>" : quoteCommandLine([capture])}`;
  return (
    `pcapng has no place for a process's pipes (stdin, stdout, stderr): it holds network packets only. ` +
    `Session '${info.name}' is recorded in ${where}: read it with \`${show}\`, or reopen it in the workbench ` +
    `(Import capture…, a Wirescope recording).`
  );
}

function nothingMessage(info: SessionHeader, conn: number | undefined, skipped: string[]): string {
  const what = conn === undefined ? `Session '${info.name}'` : `Connection ${conn} of session '${info.name}'`;
  if (skipped.length === 0) {
    return `${what} has no connections yet: connect (or wait for a client to connect), then export.`;
  }
  return (
    `${what} has nothing to export as pcapng (${skipped.join("; ")}): only TCP connections that connected ` +
    "become packets."
  );
}

/** A writer on `<stem>.pcapng`, or `<stem>-2.pcapng`, ...: the first that doesn't exist (created exclusively). */
function createExclusive(folder: string, stem: string, section: PcapngSection): Promise<PcapngWriter> {
  return exclusiveFile(folder, stem, ".pcapng", (file) => PcapngWriter.create(file, section));
}

/**
 * Runs `create` on `<folder>/<stem><ext>`, or on `<stem>-2<ext>`, ... until it doesn't fail with EEXIST (it must
 * create its file exclusively): an export never replaces an earlier one. Throws ExportNameError when MAX_NAME_TRIES
 * names are taken, and whatever else `create` throws.
 */
export async function exclusiveFile<T>(
  folder: string,
  stem: string,
  ext: string,
  create: (file: string) => Promise<T>,
): Promise<T> {
  for (let n = 1; n <= MAX_NAME_TRIES; n++) {
    const file = path.join(folder, n === 1 ? `${stem}${ext}` : `${stem}-${n}${ext}`);
    try {
      return await create(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new ExportNameError(
    `${folder} already holds ${MAX_NAME_TRIES} exports named ${stem}: move some away, then export again.`,
  );
}
