/**
 * TCP conversations out of a capture's segments: segments are grouped by their 4-tuple (a SYN that isn't a retransmission
 * starts a new conversation on a tuple seen before), each direction is put back in order by a TcpStream, and the result
 * is a Conversation (conversation.ts) per connection — data at the time its bytes became readable in order, FINs,
 * the first RST, and notes on what the reassembly met — with its ConversationSummary for the import's list.
 */
import type { ConversationSummary } from "../../preload/contract.ts";
import { plural } from "./captured-packet.ts";
import { formatEndpoint, type Conversation, type ConversationEvent, type Endpoint, type Side } from "./conversation.ts";
import { TcpStream, type StreamDelivery, type StreamTally } from "./tcp-stream.ts";
import type { TcpSegment } from "./tcp-segment.ts";

/** A conversation read from a capture, and its line in the import's list. */
export interface ImportedConversation {
  summary: ConversationSummary;
  conversation: Conversation;
}

/** "a" is the side that sent the conversation's first packet, "b" the other; which one is the client is decided last. */
type Way = "a" | "b";

/** An event before the client is known: its sender is a way. */
type PendingEvent =
  | { t: number; kind: "data"; from: Way; data: Uint8Array }
  | { t: number; kind: "fin" | "rst"; from: Way }
  | { t: number; kind: "gap"; from: Way; at: number; size: number };

/** One conversation being reassembled. */
class Tracked {
  readonly events: PendingEvent[] = [];
  readonly streams: Record<Way, TcpStream>;
  readonly bytes: Record<Way, number> = { a: 0, b: 0 };
  packets = 0;
  readonly packetsFrom: Record<Way, number> = { a: 0, b: 0 };
  lastMicros: number;
  /** Who sent the SYN (without ACK) and the SYN-ACK, and who sent data first. */
  synFrom: Way | null = null;
  synAckFrom: Way | null = null;
  firstDataFrom: Way | null = null;
  finFrom = new Set<Way>();
  rstFrom: Way | null = null;
  extraResets = 0;

  constructor(
    readonly number: number,
    readonly a: Endpoint,
    readonly b: Endpoint,
    readonly startMicros: number,
  ) {
    this.lastMicros = startMicros;
    this.streams = { a: this.stream("a"), b: this.stream("b") };
  }

  private stream(from: Way): TcpStream {
    return new TcpStream((d: StreamDelivery) => {
      if (d.kind === "data") {
        this.bytes[from] += d.data.byteLength;
        this.firstDataFrom ??= from;
      }
      if (d.kind === "fin") this.finFrom.add(from);
      this.events.push({ ...d, from });
    });
  }

  /** Whether the connection is over: a RST, or a FIN delivered from both sides. */
  get closed(): boolean {
    return this.rstFrom !== null || this.finFrom.size === 2;
  }
}

/** The key of a 4-tuple, the same for both directions. */
function tupleKey(x: Endpoint, y: Endpoint): string {
  const one = `${x.host}|${x.port}`;
  const two = `${y.host}|${y.port}`;
  return one < two ? `${one}|${two}` : `${two}|${one}`;
}

function sameEndpoint(x: Endpoint, y: Endpoint): boolean {
  return x.port === y.port && x.host === y.host;
}

/**
 * Groups and reassembles a capture's TCP segments. Owned by one import: it calls `segmentReceived` for each segment
 * in capture order and `finish` once, which flushes every stream and numbers conversations in the order they began.
 */
export class TcpReassembler {
  private readonly live = new Map<string, Tracked>();
  private readonly all: Tracked[] = [];

  /** How many conversations were started so far. */
  get conversations(): number {
    return this.all.length;
  }

  /** A segment captured at `timeMicros` (Unix µs). `maxConversations` bounds new ones (the caller counts the rest). */
  segmentReceived(segment: TcpSegment, timeMicros: number, maxConversations = Infinity): boolean {
    const key = tupleKey(segment.source, segment.destination);
    let tracked = this.live.get(key);
    const opening = segment.syn && !segment.ackFlag;
    if (tracked !== undefined && opening && this.startsAnew(tracked, segment)) {
      this.flush(tracked);
      tracked = undefined;
    }
    if (tracked === undefined) {
      if (this.all.length >= maxConversations) return false;
      tracked = new Tracked(this.all.length + 1, segment.source, segment.destination, timeMicros);
      this.live.set(key, tracked);
      this.all.push(tracked);
    }
    this.place(tracked, segment, timeMicros);
    return true;
  }

  /**
   * Whether a SYN (without ACK) on a tuple already seen starts a new conversation: it does unless it repeats that
   * side's ISN (a retransmitted SYN) or answers the other side's SYN before this side sent anything (a simultaneous
   * open, RFC 9293 section 3.5). Whether the old conversation closed doesn't matter: a capture that started
   * mid-stream, or lost the close, still sees the port reused, and the new ISN may be above or below the old bytes.
   */
  private startsAnew(tracked: Tracked, segment: TcpSegment): boolean {
    const from: Way = sameEndpoint(segment.source, tracked.a) ? "a" : "b";
    const isn = tracked.streams[from].isn;
    if (isn !== null) return isn !== segment.seq;
    const simultaneousOpen = tracked.synFrom !== null && tracked.synFrom !== from && tracked.packetsFrom[from] === 0;
    return !simultaneousOpen;
  }

  private place(tracked: Tracked, segment: TcpSegment, timeMicros: number): void {
    const from: Way = sameEndpoint(segment.source, tracked.a) ? "a" : "b";
    const t = timeMicros - tracked.startMicros;
    tracked.packets += 1;
    tracked.packetsFrom[from] += 1;
    tracked.lastMicros = Math.max(tracked.lastMicros, timeMicros);
    const stream = tracked.streams[from];
    if (segment.syn) {
      if (segment.ackFlag) tracked.synAckFrom ??= from;
      else tracked.synFrom ??= from;
      stream.synReceived(segment.seq);
    }
    if (segment.rst) {
      if (tracked.rstFrom === null) {
        tracked.rstFrom = from;
        tracked.events.push({ t, kind: "rst", from });
      } else {
        tracked.extraResets += 1;
      }
      return;
    }
    const dataSeq = segment.syn ? (segment.seq + 1) >>> 0 : segment.seq;
    stream.segmentReceived(dataSeq, segment.payload, segment.fin, t, segment.notCaptured);
  }

  private flush(tracked: Tracked): void {
    tracked.streams.a.flush();
    tracked.streams.b.flush();
  }

  /** Flushes every stream; the conversations in the order they began. Called once, after the last segment. */
  finish(): ImportedConversation[] {
    for (const tracked of this.live.values()) this.flush(tracked);
    this.live.clear();
    return this.all.map(conclude);
  }
}

/** Decides who the client was and turns a tracked conversation into a Conversation and its summary. */
function conclude(tracked: Tracked): ImportedConversation {
  const notes: string[] = [];
  let clientWay: Way;
  if (tracked.synFrom !== null) clientWay = tracked.synFrom;
  else if (tracked.synAckFrom !== null) clientWay = tracked.synAckFrom === "a" ? "b" : "a";
  else {
    clientWay = tracked.firstDataFrom ?? "a";
    notes.push("the capture has no handshake: the client is taken to be the side that sent data first");
  }
  const sideOf = (way: Way): Side => (way === clientWay ? "client" : "server");
  const client = clientWay === "a" ? tracked.a : tracked.b;
  const server = clientWay === "a" ? tracked.b : tracked.a;
  const serverWay: Way = clientWay === "a" ? "b" : "a";
  notes.push(...tallyNotes("client", tracked.streams[clientWay].tally));
  notes.push(...tallyNotes("server", tracked.streams[serverWay].tally));
  if (tracked.extraResets > 0) notes.push(`${plural(tracked.extraResets, "more RST")} after the first were ignored`);
  const events: ConversationEvent[] = notes.map((text) => ({ t: 0, kind: "note", text }));
  for (const e of tracked.events) {
    if (e.kind === "gap") {
      events.push({
        t: e.t,
        kind: "note",
        text: `${plural(e.size, "byte")} from the ${sideOf(e.from)} missing at stream offset ${e.at.toLocaleString("en-US")}: the capture lost them`,
      });
    } else if (e.kind === "data") {
      events.push({ t: e.t, kind: "data", from: sideOf(e.from), data: e.data });
    } else {
      events.push({ t: e.t, kind: e.kind, from: sideOf(e.from) });
    }
  }
  // Each direction is in time order already; interleave them stably.
  const ordered = events
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.t - y.e.t || x.i - y.i)
    .map(({ e }) => e);
  const handshake = tracked.synFrom !== null;
  const summary: ConversationSummary = {
    id: tracked.number,
    client: formatEndpoint(client),
    server: formatEndpoint(server),
    startMs: tracked.startMicros / 1000,
    durationMs: (tracked.lastMicros - tracked.startMicros) / 1000,
    packets: tracked.packets,
    bytesToServer: tracked.bytes[clientWay],
    bytesToClient: tracked.bytes[serverWay],
    complete: handshake && tracked.closed,
    notes,
  };
  const conversation: Conversation = {
    client,
    server,
    epochMs: tracked.startMicros / 1000,
    openedAt: 0,
    events: ordered,
  };
  return { summary, conversation };
}

/** What one direction's reassembly met, in words ("client: 3 retransmitted segments dropped (4,344 bytes)"). */
function tallyNotes(side: Side, tally: StreamTally): string[] {
  const notes: string[] = [];
  if (tally.midStream) notes.push(`${side}: the capture starts after the ${side}'s first bytes were sent`);
  if (tally.outOfOrderSegments > 0) {
    notes.push(`${side}: ${plural(tally.outOfOrderSegments, "segment")} arrived out of order and were put in place`);
  }
  if (tally.retransmittedSegments > 0) {
    notes.push(
      `${side}: ${plural(tally.retransmittedSegments, "retransmitted segment")} dropped (${plural(tally.retransmittedBytes, "byte")} seen before)`,
    );
  }
  if (tally.overlapBytes > 0) {
    notes.push(`${side}: ${plural(tally.overlapBytes, "overlapping byte")} dropped (the first copy kept)`);
  }
  if (tally.gaps.length > 0) {
    const missing = tally.gaps.reduce((n, g) => n + g.size, 0);
    const where = tally.gaps
      .slice(0, 5)
      .map((g) => `${plural(g.size, "byte")} at offset ${g.at.toLocaleString("en-US")}`)
      .join(", ");
    const more = tally.gaps.length > 5 ? `, and ${tally.gaps.length - 5} more` : "";
    notes.push(
      `${side}: ${plural(missing, "byte")} missing in ${plural(tally.gaps.length, "gap")} (${where}${more}): the capture lost them`,
    );
  }
  if (tally.notCapturedBytes > 0) {
    notes.push(
      `${side}: ${plural(tally.notCapturedBytes, "byte")} not kept by the capture's snapshot length (capture again with -s 0)`,
    );
  }
  return notes;
}
