/**
 * The contract's long commands — exportPcapng, importCapture, decode — and `cancel`. Each runs under the operation
 * id its caller gave, if any (operations.ts): it sends onProgress as it reads, stops at `cancel` or at the engine's
 * own signal, and then leaves no file or session behind. The engine owns one and hands these commands to it.
 */
import * as fsp from "node:fs/promises";
import type { CommandResult, EventSink, WirescopeService } from "../../preload/contract.ts";
import type { SandboxHost } from "../sandbox/sandbox-host.ts";
import { exportsDir } from "../workspace/layout.ts";
import { exportSession } from "../interchange/export.ts";
import type { ReportProgress } from "../interchange/stop-check.ts";
import { EngineError } from "./errors.ts";
import type { CaptureImports } from "./imports.ts";
import type { ProtocolLibrary } from "./protocol-library.ts";
import { decodeToSession, readConversation } from "./decode-session.ts";
import { Operations } from "./operations.ts";
import type { SessionEntry, SessionRegistry } from "./session-registry.ts";

/** What the long commands work on: the engine's own parts, shared with its other commands. */
export interface LongCommandsOptions {
  /** Where onProgress goes (the engine's current sink). */
  emit: EventSink;
  /** The engine's own signal (EngineOptions.signal): every long command stops at it, with or without an id. */
  signal: AbortSignal | undefined;
  sessions: SessionRegistry;
  /** Resolves and loads the decode's protocol; its workspace is where exports go and imported paths are read. */
  library: ProtocolLibrary;
  /** Runs a decode's protocol, in a sandbox group of its own. */
  sandbox: SandboxHost;
  /** Captures imported with importCapture, kept for the engine's openConversation. */
  imports: CaptureImports;
}

/** The engine's long commands and the operations they run under. Owned by the engine. */
export class LongCommands {
  /** The long commands running under an operation id: their progress events and `cancel`. */
  private readonly operations: Operations;

  constructor(private readonly options: LongCommandsOptions) {
    this.operations = new Operations(options.emit, options.signal);
  }

  /**
   * Writes the session (or connection `conn`) as a new pcapng file in `<workspace>/exports/` (interchange/export.ts);
   * with `includeData`, answers the file's bytes too. Unknown sessions and connections get their usual errors.
   */
  async exportPcapng(args: Parameters<WirescopeService["exportPcapng"]>[0]): Promise<CommandResult<"exportPcapng">> {
    const { sessions, library } = this.options;
    const { session, recorder } = sessions.get(args.session);
    if (args.conn !== undefined) session.connection(args.conn);
    const folder = exportsDir(library.workspace.root);
    const recorded = {
      info: session.info(),
      connections: sessions.connectionsOf(args.session),
      capture: recorder.file,
      timeline: recorder,
    };
    const { skipped, ...written } = await this.operations.run(args.operation, "events", (operation) =>
      exportSession(recorded, folder, args.conn, operation.signal, operation.report),
    );
    return {
      ...written,
      ...(skipped.length > 0 ? { skipped } : {}),
      ...(args.includeData ? { data: await fsp.readFile(written.path) } : {}),
    };
  }

  /** Reads a pcap/pcapng file (bytes, or a path from the workspace) and keeps its conversations (imports.ts). */
  async importCapture(args: Parameters<WirescopeService["importCapture"]>[0]): Promise<CommandResult<"importCapture">> {
    const { imports, library } = this.options;
    return this.operations.run(args.operation, "bytes", (operation) =>
      imports.importCapture(args, library.workspace.root, operation.signal, operation.report),
    );
  }

  /** Stops a long command running under `args.operation` (operations.ts). */
  async cancel(args: Parameters<WirescopeService["cancel"]>[0]): Promise<CommandResult<"cancel">> {
    return { cancelled: this.operations.cancel(args.operation) };
  }

  /** Runs a protocol over a recorded connection as a passive decoder, into a new "decode" session (decode.ts). */
  async decode(args: Parameters<WirescopeService["decode"]>[0]): Promise<CommandResult<"decode">> {
    return this.operations.run(args.operation, "events", ({ signal, report }) =>
      this.decodeUnder(args, signal, report),
    );
  }

  /** `decode`, stopped by `signal` (the operation's, or the engine's), telling `progress` the events read. */
  private async decodeUnder(
    args: Parameters<WirescopeService["decode"]>[0],
    signal: AbortSignal | undefined,
    progress: ReportProgress,
  ): Promise<CommandResult<"decode">> {
    const { sessions, library, sandbox } = this.options;
    const from = sessions.get(args.session);
    const conversation = await readConversation(from.session, from.recorder, args.conn, { signal, progress });
    const file = await library.resolve(args.protocol);
    if (file === null)
      throw new EngineError("no-protocol", "Decoding needs a protocol file: choose one to decode with.");
    const source = `${from.session.name}, connection ${args.conn}, decoded with ${file}`;
    let created: SessionEntry | null = null;
    try {
      const { session, resplit } = await decodeToSession(
        {
          newGroup: async () => {
            const group = sandbox.createGroup(`decode of ${source}`, { virtualClock: true, locateHangs: true });
            await library.loadInto(group, file).catch(async (err: unknown) => {
              await group.dispose();
              throw err;
            });
            return group;
          },
          createSession: async () => {
            created = await sessions.createOffline("decode", {
              name: args.name ?? `${file} over ${from.session.name}`,
              source,
              epochMs: conversation.epochMs,
              protocol: file,
            });
            return { session: created.session, timeline: created.session.timeline };
          },
        },
        conversation,
        { file, side: args.side, resplit: args.resplit, signal },
      );
      return resplit === undefined ? { session: session.info() } : { session: session.info(), resplit };
    } catch (err) {
      // Stopped (cancelled, or by the owner) during the re-split runs: the decode is not done, so its session is not
      // left behind.
      if (created !== null && signal?.aborted) await sessions.drop(created);
      throw err;
    } finally {
      if (created !== null) sessions.changed();
    }
  }
}
