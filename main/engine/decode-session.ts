/**
 * The contract's `decode` command, around decode.ts: reads a recorded connection as a Conversation, decodes it,
 * writes the result as a new "decode" session, and runs the re-split check if asked.
 */
import type { ResplitReport } from "../../preload/contract.ts";
import type { NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";
import { conversationFromTimeline, type Conversation } from "../interchange/conversation.ts";
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
 * Every event of a session's timeline, in order. Read in pieces: the recorder answers at most READ_MAX_BYTES of
 * payload per read.
 */
export async function readWholeTimeline(recorder: Recorder): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  const total = recorder.count;
  while (events.length < total) {
    const piece = await recorder.read(events.length, total - events.length);
    if (piece.length === 0) break;
    events.push(...piece);
  }
  return events;
}

/** The conversation of connection `conn` of a session (throws ConversationError for one that isn't TCP). */
export async function readConversation(session: Session, recorder: Recorder, conn: number): Promise<Conversation> {
  const connection = session.connection(conn).info();
  return conversationFromTimeline(await readWholeTimeline(recorder), connection, session.epochMs);
}

/** What decodeToSession needs from the engine. */
export interface DecodeServices {
  /** A sandbox group with a virtual clock and the file loaded; throws a clear error if it doesn't compile. */
  newGroup: DecodeGroupFactory;
  /** Makes the new, empty "decode" session (the engine's createOfflineSession); called once the file loaded. */
  createSession(): Promise<{ session: Session; timeline: TimelineSink }>;
}

/** What the contract's `decode` asks. */
export interface DecodeRequest {
  file: string;
  side: DecodeSide;
  resplit?: { runs: number; seed: number } | undefined;
}

/**
 * Decodes `conversation` with `request.file` onto a new decode session (made once the file compiled and loaded): the conversation's events as
 * recordConversation writes them, with the protocol's log lines, errors and halts and the decoder's "would write"
 * lines merged in at their times. Then, if asked, the re-split runs. Throws DecoderStoppedError (after writing
 * what was decoded, and marking the session failed) when the worker was stopped.
 */
export async function decodeToSession(
  services: DecodeServices,
  conversation: Conversation,
  request: DecodeRequest,
): Promise<{ session: Session; resplit?: ResplitReport }> {
  const group = await services.newGroup();
  let run;
  try {
    run = await decodeOnce(group, request.file, conversation, request.side);
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
    session.state = "failed";
    session.error = run.stopped;
    throw new DecoderStoppedError(request.file, run.stopped);
  }
  if (request.resplit === undefined) return { session };
  const resplit = await resplitRuns(
    services.newGroup,
    request.file,
    conversation,
    request.side,
    run.messages,
    request.resplit,
  );
  return { session, resplit };
}
