/**
 * The contract's `decode` command, around decode.ts: reads a recorded connection as a Conversation, decodes it,
 * writes the result as a new "decode" session, and runs the re-split check if asked.
 */
import type { ResplitReport } from "../../preload/contract.ts";
import type { NewTimelineEvent } from "../../preload/timeline.ts";
import { ConversationTracker, type Conversation, type ConversationEvent } from "../interchange/conversation.ts";
import { betweenBlocks, type ReportProgress } from "../interchange/stop-check.ts";
import type { Recorder } from "../recording/recorder.ts";
import { decodeOnce, mergeTimeline, resplitRuns, type DecodeGroupFactory, type DecodeSide } from "./decode.ts";
import { EngineError } from "./errors.ts";
import { recordConversation } from "./offline.ts";
import type { TimelineSink } from "./recording-protocol.ts";
import type { Session } from "./session.ts";

/** The decoder was stopped (it hung or ran out of memory): the decode session shows how far it got. */
export class DecoderStoppedError extends EngineError {
  constructor(file: string, reason: string) {
    super(
      "decoder-stopped",
      `${file} was stopped while decoding: ${reason}. The decode session shows what it decoded until then; ` +
        `fix the protocol, save it and decode again.`,
    );
  }
}

/**
 * The most bytes (both sides' data) one conversation may hold to be decoded or replayed: both hold the whole
 * conversation in memory (the decoder's re-split runs cut it again and again; a replay compares every answer), so
 * a bigger one is refused rather than taking the engine's memory. A pcapng export has no such limit.
 */
export const MAX_CONVERSATION_BYTES = 256 * 1024 * 1024;
/** Timeline events read at a time while looking for one connection's. */
const READ_EVENTS = 4096;

/** The connection is a child process's pipes (a process session's, live or reopened): not a TCP conversation. */
export class PipesNotAConversationError extends EngineError {
  constructor(conn: number) {
    super(
      "not-a-tcp-conversation",
      `Connection ${conn} is a process's pipes (stdin, stdout, stderr), not a TCP connection: Decode and Replay ` +
        `work on TCP connections. To decode a process, choose a protocol when you run it (or wrap it with ` +
        `wirescope wrap --protocol).`,
    );
  }
}

/** A connection holds more traffic than MAX_CONVERSATION_BYTES: too big to decode or replay. */
export class ConversationTooBigError extends EngineError {
  constructor(conn: number, limit: number) {
    const MiB = 1024 * 1024;
    const size = limit % MiB === 0 ? `${limit / MiB} MiB` : `${limit} bytes`;
    super(
      "conversation-too-big",
      `Connection ${conn} carried more than ${size}, more than a decode or replay holds in memory: ` +
        `record or import a shorter conversation (or export it as pcapng and cut it down, e.g. with editcap), ` +
        `then decode or replay that.`,
    );
  }
}

/**
 * The conversation of connection `conn` of a session, for a decode or a replay. The timeline is read a range at a
 * time and only this connection's events are kept, so reading a small connection of a big session takes the
 * memory of one range. Throws ConversationError for a connection that isn't TCP, ConversationTooBigError when the
 * connection carried more than `limit` bytes (MAX_CONVERSATION_BYTES unless given), and `signal`'s reason when it
 * is aborted (checked between ranges). `progress` is told the events read so far after each range.
 */
export async function readConversation(
  session: Pick<Session, "connection" | "epochMs" | "kind" | "recordedKind">,
  recorder: Pick<Recorder, "count" | "read">,
  conn: number,
  {
    limit = MAX_CONVERSATION_BYTES,
    signal,
    progress,
  }: { limit?: number; signal?: AbortSignal | undefined; progress?: ReportProgress } = {},
): Promise<Conversation> {
  if (session.kind === "process" || session.recordedKind === "process") throw new PipesNotAConversationError(conn);
  const tracker = new ConversationTracker(session.connection(conn).info(), session.epochMs);
  const events: ConversationEvent[] = [];
  let bytes = 0;
  const total = recorder.count;
  for (let from = 0; from < total;) {
    const piece = await recorder.read(from, Math.min(READ_EVENTS, total - from));
    if (piece.length === 0) break;
    from += piece.length;
    for (const e of piece) {
      for (const made of tracker.push(e)) {
        if (made.kind === "data") bytes += made.data.byteLength;
        if (bytes > limit) throw new ConversationTooBigError(conn, limit);
        events.push(made);
      }
    }
    progress?.(from, total);
    await betweenBlocks(signal);
  }
  return { ...tracker.header(), events };
}

/** What decodeToSession needs from the engine. */
export interface DecodeServices {
  /** A sandbox group with a virtual clock and the file loaded; throws a clear error if it doesn't compile. */
  newGroup: DecodeGroupFactory;
  /** Makes the new, empty "decode" session (the session registry's createOffline); called once the file loaded. */
  createSession(): Promise<{ session: Session; timeline: TimelineSink }>;
}

/** What the contract's `decode` asks. */
export interface DecodeRequest {
  file: string;
  side: DecodeSide;
  resplit?: { runs: number; seed: number } | undefined;
  /** Stops the decode and its re-split runs between blocks of the conversation: they throw the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Decodes `conversation` with `request.file` onto a new decode session (made once the file compiled and loaded): the conversation's events as
 * recordConversation writes them, with the protocol's log lines, errors and halts and the decoder's "would write"
 * lines merged in at their times. Then, if asked, the re-split runs. Throws DecoderStoppedError (after writing
 * what was decoded, and marking the session failed) when the worker was stopped, and `request.signal`'s reason
 * when it is aborted.
 */
export async function decodeToSession(
  services: DecodeServices,
  conversation: Conversation,
  request: DecodeRequest,
): Promise<{ session: Session; resplit?: ResplitReport }> {
  const group = await services.newGroup();
  let run;
  try {
    run = await decodeOnce(group, request.file, conversation, request.side, request.signal);
  } finally {
    await group.dispose();
  }
  const { session, timeline } = await services.createSession();
  const recorded: NewTimelineEvent[] = [];
  // The recording's own notes (what another protocol decoded) are left out: the decode shows this protocol's.
  const traffic = { ...conversation, events: conversation.events.filter((e) => e.kind !== "note") };
  const record = recordConversation(session, { append: (e) => recorded.push(e) }, traffic);
  for (const event of mergeTimeline(recorded, run.outputs, record.conn)) timeline.append(event);
  const halted = Object.values(run.halted)[0];
  const classes = [...new Set(Object.values(run.classes))].join(" + ");
  record.protocol =
    halted === undefined
      ? { file: request.file, className: classes, state: "running" }
      : { file: request.file, className: classes, state: "halted", halted };
  if (run.stopped !== null) {
    session.stopped(run.stopped);
    throw new DecoderStoppedError(request.file, run.stopped);
  }
  if (request.resplit === undefined) return { session };
  const resplit = await resplitRuns(services.newGroup, request.file, conversation, request.side, run.messages, {
    ...request.resplit,
    signal: request.signal,
  });
  return { session, resplit };
}
