/**
 * Capture imports kept by the engine: `importCapture` reads a pcap/pcapng file (given as bytes, or as a path) into
 * conversations and keeps them under a capture id ("c1", "c2", ...); `openConversation` writes one of them onto a
 * new "imported" session's timeline. The engine's two commands delegate here.
 *
 * Kept imports hold their conversations in memory (capture-import.ts bounds one import), so the engine keeps at most
 * MAX_KEPT_CAPTURES of them and MAX_KEPT_IMPORT_BYTES in all (estimated by importFootprint): a new import forgets
 * the oldest until both hold. The newest is always kept, whatever its size.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { CommandResult, SessionInfo, WirescopeService } from "../../preload/contract.ts";
import { CaptureFormatError } from "../interchange/capture-error.ts";
import { importCaptureStream, importFootprint, type CaptureImport } from "../interchange/capture-import.ts";
import { formatEndpoint } from "../interchange/conversation.ts";
import type { ReportProgress } from "../interchange/stop-check.ts";
import { EngineError } from "./errors.ts";
import { recordConversation } from "./offline.ts";
import type { TimelineSink } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/** Imports kept at once; importing more forgets the oldest (its sessions stay). */
export const MAX_KEPT_CAPTURES = 16;
/** Estimated memory the kept imports may hold together; past it, importing forgets the oldest (its sessions stay). */
export const MAX_KEPT_IMPORT_BYTES = 2 * 1024 * 1024 * 1024;
/** How much of a file is read at a time. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** `data` a READ_CHUNK_BYTES piece at a time (views, no copies), as a file stream would give it. */
function* piecesOf(data: Uint8Array): Iterable<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += READ_CHUNK_BYTES) yield data.subarray(at, at + READ_CHUNK_BYTES);
}

/** `chunks` as they come, telling `progress` the bytes passed on so far (of `total`) before each one is used. */
async function* counted(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  total: number,
  progress: ReportProgress,
): AsyncIterable<Uint8Array> {
  let done = 0;
  for await (const chunk of chunks) {
    done += chunk.byteLength;
    progress(done, total);
    yield chunk;
  }
}

/** A capture id that was never given, or was forgotten. */
export class UnknownCaptureError extends EngineError {
  constructor(id: string) {
    super(
      "unknown-capture",
      `There is no imported capture '${id}': it may have been forgotten (the last ${MAX_KEPT_CAPTURES} imports are kept, ` +
        "fewer when they are large). Import the file again.",
    );
  }
}

/** A conversation number a capture doesn't have. */
export class UnknownConversationError extends EngineError {
  constructor(capture: string, name: string, conversation: number, count: number) {
    super(
      "unknown-conversation",
      count === 0
        ? `${name} (capture '${capture}') has no TCP conversations to open.`
        : `${name} (capture '${capture}') has conversations 1 to ${count}; there is no conversation ${conversation}.`,
    );
  }
}

/** A path that can't be read: `cause` is the file system's error (isFileSystemError). */
export class CaptureUnreadableError extends EngineError {
  constructor(file: string, cause: NodeJS.ErrnoException) {
    const reason =
      cause.code === "ENOENT"
        ? "there is no such file"
        : cause.code === "EISDIR"
          ? "it is a folder"
          : cause.code === "EACCES" || cause.code === "EPERM"
            ? "permission denied"
            : cause.message;
    super("capture-unreadable", `Can't read ${file}: ${reason}. Check the path and try again.`, { cause });
  }
}

/** Whether `err` is the file system's (ENOENT, EACCES, EISDIR, EIO...): Node's system errors name their syscall. */
function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string";
}

/** What an import keeps: its name (the file's), what was read, and about how much memory that holds. */
interface StoredCapture {
  name: string;
  result: CaptureImport;
  footprint: number;
}

/** A new offline session with its timeline, showing what it is given; provided by the engine's session registry. */
export type CreateImportedSession = (shown: {
  name: string;
  source: string;
  epochMs: number;
  target: string;
}) => Promise<{ session: Session; recorder: TimelineSink }>;

/**
 * The engine's imported captures. Owned by the engine; forgets the oldest only when MAX_KEPT_CAPTURES or
 * MAX_KEPT_IMPORT_BYTES is exceeded.
 */
export class CaptureImports {
  private readonly captures = new Map<string, StoredCapture>();
  private next = 1;

  /** The engine keeps the defaults; tests give smaller limits. */
  constructor(
    private readonly limits: { maxKept: number; maxKeptBytes: number } = {
      maxKept: MAX_KEPT_CAPTURES,
      maxKeptBytes: MAX_KEPT_IMPORT_BYTES,
    },
  ) {}

  /**
   * Reads `data`, or the file at `path` (absolute as given, relative inside `root`, the workspace: never from the
   * process's current directory) in chunks, and keeps its conversations. Throws CaptureFormatError ("bad-capture")
   * for a file that isn't a readable capture, CaptureUnreadableError when the file system refuses the file, and
   * `signal`'s reason when it is aborted while the file is read (nothing is kept then); any other error is a bug
   * and propagates as it is. Both data and files are read a chunk at a time, telling `progress` the bytes read.
   */
  async importCapture(
    args: Parameters<WirescopeService["importCapture"]>[0],
    root: string,
    signal?: AbortSignal,
    progress: ReportProgress = () => {},
  ): Promise<CommandResult<"importCapture">> {
    let result: CaptureImport;
    let footprint: number;
    if (args.data !== undefined) {
      const chunks = counted(piecesOf(args.data), args.data.byteLength, progress);
      result = await importCaptureStream(chunks, { signal });
      footprint = importFootprint(result, args.data);
    } else {
      const file = path.resolve(root, args.path ?? "");
      try {
        const { size } = await fsp.stat(file);
        const stream = fs.createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
        result = await importCaptureStream(counted(stream, size, progress), { copyPayloads: true, signal });
      } catch (err) {
        if (err instanceof CaptureFormatError || !isFileSystemError(err)) throw err;
        throw new CaptureUnreadableError(file, err);
      }
      footprint = importFootprint(result);
    }
    const capture = `c${this.next++}`;
    this.captures.set(capture, { name: args.name, result, footprint });
    this.forgetOldest();
    return {
      capture,
      name: args.name,
      format: result.format,
      packets: result.packets,
      conversations: result.conversations.map((c) => c.summary),
      warnings: result.warnings,
    };
  }

  /** Forgets the oldest imports until at most MAX_KEPT_CAPTURES and MAX_KEPT_IMPORT_BYTES are kept, or one is left. */
  private forgetOldest(): void {
    let total = 0;
    for (const stored of this.captures.values()) total += stored.footprint;
    for (const [old, stored] of this.captures) {
      if (this.captures.size === 1) break;
      if (this.captures.size <= this.limits.maxKept && total <= this.limits.maxKeptBytes) break;
      this.captures.delete(old);
      total -= stored.footprint;
    }
  }

  /**
   * Opens conversation `conversation` of `capture` as a new "imported" session named "<file> #<n>", its timeline
   * seen from the client (the client's bytes "out"). The caller announces the changed session list.
   */
  async openConversation(
    args: Parameters<WirescopeService["openConversation"]>[0],
    createSession: CreateImportedSession,
  ): Promise<SessionInfo> {
    const stored = this.captures.get(args.capture);
    if (stored === undefined) throw new UnknownCaptureError(args.capture);
    const imported = stored.result.conversations[args.conversation - 1];
    if (imported === undefined) {
      throw new UnknownConversationError(
        args.capture,
        stored.name,
        args.conversation,
        stored.result.conversations.length,
      );
    }
    const { conversation, summary } = imported;
    const source = `${stored.name}, conversation ${summary.id}: ${summary.client} -> ${summary.server}`;
    const entry = await createSession({
      name: `${stored.name} #${summary.id}`,
      source,
      epochMs: conversation.epochMs,
      target: formatEndpoint(conversation.server),
    });
    recordConversation(entry.session, entry.recorder, conversation);
    return entry.session.info();
  }
}
