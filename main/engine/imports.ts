/**
 * Capture imports kept by the engine: `importCapture` reads a pcap/pcapng file (given as bytes, or as a path) into
 * conversations and keeps them under a capture id ("c1", "c2", ...); `openConversation` writes one of them onto a
 * new "imported" session's timeline. The engine's two commands delegate here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CommandResult, SessionInfo, WirescopeService } from "../../preload/contract.ts";
import { CaptureFormatError } from "../interchange/capture-error.ts";
import { importCaptureBytes, importCaptureStream, type CaptureImport } from "../interchange/capture-import.ts";
import { formatEndpoint } from "../interchange/conversation.ts";
import { EngineError } from "./errors.ts";
import { recordConversation } from "./offline.ts";
import type { TimelineSink } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/** Imports kept at once; importing more forgets the oldest (its sessions stay). */
export const MAX_KEPT_CAPTURES = 16;
/** How much of a file is read at a time. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** A capture id that was never given, or was forgotten. */
export class UnknownCaptureError extends EngineError {
  constructor(id: string) {
    super(
      "unknown-capture",
      `There is no imported capture '${id}': it may have been forgotten (the last ${MAX_KEPT_CAPTURES} imports are kept). Import the file again.`,
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

/** A path that can't be read. */
export class CaptureUnreadableError extends EngineError {
  constructor(file: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "there is no such file"
        : code === "EISDIR"
          ? "it is a folder"
          : cause instanceof Error
            ? cause.message
            : String(cause);
    super("capture-unreadable", `Can't read ${file}: ${reason}. Check the path and try again.`, { cause });
  }
}

/** What an import keeps: its name (the file's) and what was read. */
interface StoredCapture {
  name: string;
  result: CaptureImport;
}

/** A new offline session with its timeline; provided by the engine (its private createOfflineSession). */
export type CreateImportedSession = (
  name: string,
  source: string,
  epochMs: number,
) => Promise<{ session: Session; recorder: TimelineSink }>;

/** The engine's imported captures. Owned by the engine; forgets nothing until MAX_KEPT_CAPTURES are exceeded. */
export class CaptureImports {
  private readonly captures = new Map<string, StoredCapture>();
  private next = 1;

  /**
   * Reads `data`, or the file at `path` (relative paths from `root`, the workspace) in chunks, and keeps its
   * conversations. Throws CaptureFormatError ("bad-capture") for a file that isn't a readable capture.
   */
  async importCapture(
    args: Parameters<WirescopeService["importCapture"]>[0],
    root: string,
  ): Promise<CommandResult<"importCapture">> {
    let result: CaptureImport;
    if (args.data !== undefined) {
      result = importCaptureBytes(args.data);
    } else {
      const file = path.resolve(root, args.path ?? "");
      try {
        result = await importCaptureStream(fs.createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }));
      } catch (err) {
        if (err instanceof CaptureFormatError) throw err;
        throw new CaptureUnreadableError(args.path ?? "", err);
      }
    }
    const capture = `c${this.next++}`;
    this.captures.set(capture, { name: args.name, result });
    for (const old of this.captures.keys()) {
      if (this.captures.size <= MAX_KEPT_CAPTURES) break;
      this.captures.delete(old);
    }
    return {
      capture,
      name: args.name,
      format: result.format,
      packets: result.packets,
      conversations: result.conversations.map((c) => c.summary),
      warnings: result.warnings,
    };
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
    const entry = await createSession(`${stored.name} #${summary.id}`, source, conversation.epochMs);
    entry.session.target = formatEndpoint(conversation.server);
    recordConversation(entry.session, entry.recorder, conversation);
    return entry.session.info();
  }
}
