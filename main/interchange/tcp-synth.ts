/**
 * Turns a Conversation into the TCP packets that would have carried it, for a pcapng export that Wireshark and
 * tshark read as a real capture: a three-way handshake at `openedAt`, each side's bytes in segments with
 * consistent sequence and acknowledgement numbers (RFC 9293 §3.4), acknowledgements the way a receiver sends them,
 * a FIN from each side that closed (acknowledged at once), a RST for a reset; `tshark -z follow,tcp,raw` gives
 * back exactly the conversation's bytes.
 *
 * Choices, where a real stack would have had its own:
 * - Fixed initial sequence numbers just below 2^32 (CLIENT_ISN, SERVER_ISN), so that every export of more than a
 *   few KiB wraps the sequence space: tools that read the file must get wrapping right, and this code does.
 * - Segments of at most SEGMENT_SIZE bytes (the IPv4 limit; the SYNs announce it as the MSS); a chunk's last segment
 *   has PSH. Windows are 65,535 scaled by 2^7 (the SYNs' window scale option): never full, never zero.
 * - Acknowledgements as Linux sends them: carried by the receiver's next segment when it sends within
 *   DELAYED_ACK_MICROS, else a bare ACK at that delay; at once after two segments' worth or a FIN.
 * - Notes (decoded messages, protocol errors) become comments of the first packet of the connection made at or
 *   after their time. A note that comes while an acknowledgement is owed makes that bare ACK go out at the note's
 *   time, carrying it: a decoder's message lands right after the bytes it decoded. Notes after the connection's
 *   last packet go on that last packet, which is why the last packet made is held back until the next one (or
 *   `finish`).
 * - Ethernet addresses are made up and locally administered, one per side: 02:00:00:00:00:01 for the client,
 *   :02 for the server. A connection whose ends differ in address family is written as IPv6, the IPv4 end mapped.
 * - Bytes a side sent after its FIN, or after a reset, can't be on the wire: they are left out, and a comment
 *   says how many.
 */
import {
  otherSide,
  type Conversation,
  type ConversationEvent,
  type ConversationHeader,
  type Side,
} from "./conversation.ts";
import {
  ACK,
  addressBytes,
  FIN,
  mappedToIPv6,
  MAX_SEGMENT_PAYLOAD,
  PSH,
  RST,
  SYN,
  synOptions,
  tcpFrame,
  type FrameEnd,
} from "./tcp-packet.ts";

/** Initial sequence numbers: fixed, so that exports are reproducible; near 2^32, so that they wrap. */
export const CLIENT_ISN = 0xfffff000;
export const SERVER_ISN = 0xffff0000;
/** The most bytes of payload in one segment (and the MSS the SYNs announce). */
export const SEGMENT_SIZE = MAX_SEGMENT_PAYLOAD;
/** How long a receiver waits for data of its own to carry an acknowledgement (Linux's minimum delayed ACK). */
export const DELAYED_ACK_MICROS = 40_000;
/** The window field of every segment after the SYNs, and its scale: 65,535 × 128 ≈ 8 MiB. */
const WINDOW = 0xffff;
const WINDOW_SCALE = 7;
const MACS: Record<Side, Uint8Array> = {
  client: Uint8Array.of(0x02, 0, 0, 0, 0, 0x01),
  server: Uint8Array.of(0x02, 0, 0, 0, 0, 0x02),
};

/** One synthesized packet: when (µs since the Unix epoch), its Ethernet frame, its comments. */
export interface SynthPacket {
  timestampMicros: number;
  frame: Uint8Array;
  comments: string[];
}

/** What the synthesizer knows of one side of the connection. */
interface SideState {
  end: FrameEnd;
  isn: number;
  /** Sequence space used (SYN, bytes, FIN): the next segment's sequence number is `isn + sent`. */
  sent: number;
  /** The other side's sequence space received: our acknowledgement number is the other's `isn + received`. */
  received: number;
  /** `received` as of our last acknowledgement. */
  acked: number;
  /** When we must send a bare ACK for what we received, unless we send something first; null when none is owed. */
  ackDue: number | null;
  finSent: boolean;
  ipId: number;
}

/**
 * Makes one connection's packets as its conversation comes: create it with the conversation's header, `start`
 * (optional: the handshake, when the connection opened), `push` each event in time order, then `finish`. Each
 * call returns the packets ready to be written, in order; the last packet made is held back until the next call
 * that makes one, or `finish` (see the notes above). Throws BadAddressError (tcp-packet.ts) from the constructor
 * for a host that is not an IP address.
 */
export class TcpSynthesizer {
  private readonly sides: Record<Side, SideState>;
  private started = false;
  private reset = false;
  /** Notes waiting for the next packet. */
  private notes: string[] = [];
  private held: SynthPacket | null = null;
  private ready: SynthPacket[] = [];

  constructor(private readonly header: ConversationHeader) {
    let client = addressBytes(header.client.host);
    let server = addressBytes(header.server.host);
    if (client.byteLength !== server.byteLength) {
      if (client.byteLength === 4) client = mappedToIPv6(client);
      else server = mappedToIPv6(server);
    }
    const side = (ip: Uint8Array, port: number, mac: Uint8Array, isn: number): SideState => ({
      end: { ip, port, mac },
      isn,
      sent: 0,
      received: 0,
      acked: 0,
      ackDue: null,
      finSent: false,
      ipId: 1,
    });
    this.sides = {
      client: side(client, header.client.port, MACS.client, CLIENT_ISN),
      server: side(server, header.server.port, MACS.server, SERVER_ISN),
    };
  }

  /** The three-way handshake at `openedAt` (made by the first `push` or `finish` if not called). */
  start(): SynthPacket[] {
    this.handshake(this.header.openedAt);
    return this.take();
  }

  /** The packets of one conversation event (`t` not before the previous event's). */
  push(e: ConversationEvent): SynthPacket[] {
    this.handshake(Math.min(this.header.openedAt, e.t));
    this.sendAcksDueBefore(e.t);
    switch (e.kind) {
      case "data":
        this.data(e.t, e.from, e.data);
        break;
      case "fin":
        this.fin(e.t, e.from);
        break;
      case "rst":
        this.rst(e.t, e.from);
        break;
      case "note":
        this.note(e.t, e.text);
        break;
    }
    return this.take();
  }

  /** The rest: acknowledgements still owed, and the held packet with the notes that came after it. */
  finish(): SynthPacket[] {
    this.handshake(this.header.openedAt);
    this.sendAcksDueBefore(Infinity);
    if (this.held !== null) {
      this.held.comments.push(...this.notes.splice(0));
      this.ready.push(this.held);
      this.held = null;
    }
    return this.take();
  }

  private handshake(t: number): void {
    if (this.started) return;
    this.started = true;
    const options = synOptions(SEGMENT_SIZE, WINDOW_SCALE);
    this.send("client", t, SYN, undefined, options);
    this.send("server", t, SYN | ACK, undefined, options);
    this.send("client", t, ACK);
  }

  private data(t: number, from: Side, data: Uint8Array): void {
    if (this.sides[from].finSent || this.reset) {
      const after = this.reset ? "the reset" : "its FIN";
      this.notes.push(`${data.byteLength} bytes the ${from} sent after ${after} are not in this capture`);
      return;
    }
    const receiver = this.sides[otherSide(from)];
    for (let at = 0; at < data.byteLength; at += SEGMENT_SIZE) {
      const last = at + SEGMENT_SIZE >= data.byteLength;
      this.send(from, t, last ? ACK | PSH : ACK, data.subarray(at, at + SEGMENT_SIZE));
      if (receiver.received - receiver.acked >= 2 * SEGMENT_SIZE) this.send(otherSide(from), t, ACK);
      else receiver.ackDue ??= t + DELAYED_ACK_MICROS;
    }
  }

  private fin(t: number, from: Side): void {
    if (this.sides[from].finSent || this.reset) return;
    this.send(from, t, FIN | ACK);
    this.sides[from].finSent = true;
    // A FIN is acknowledged at once; a FIN of the receiver's own at the same moment carries it instead.
    const receiver = this.sides[otherSide(from)];
    receiver.ackDue = Math.min(receiver.ackDue ?? t, t);
  }

  private rst(t: number, from: Side): void {
    if (this.reset) return;
    this.send(from, t, RST | ACK);
    this.reset = true;
    this.sides.client.ackDue = null;
    this.sides.server.ackDue = null;
  }

  private note(t: number, text: string): void {
    this.notes.push(text);
    const owing = this.owing();
    if (owing !== null) this.send(owing, t, ACK);
  }

  /** Sends the bare ACKs due before `t`, each at its due time, earliest first. */
  private sendAcksDueBefore(t: number): void {
    for (let side = this.owing(); side !== null && this.sides[side].ackDue! < t; side = this.owing()) {
      this.send(side, this.sides[side].ackDue!, ACK);
    }
  }

  /** The side whose acknowledgement is due first, or null when neither owes one. */
  private owing(): Side | null {
    const c = this.sides.client.ackDue;
    const s = this.sides.server.ackDue;
    if (c === null) return s === null ? null : "server";
    return s === null || c <= s ? "client" : "server";
  }

  /** Makes one segment from `from`, taking the waiting notes as its comments; holds it back (see the class). */
  private send(from: Side, t: number, flags: number, payload?: Uint8Array, options?: Uint8Array): void {
    const me = this.sides[from];
    const peer = this.sides[otherSide(from)];
    const frame = tcpFrame({
      from: me.end,
      to: peer.end,
      seq: me.isn + me.sent,
      ack: peer.isn + me.received,
      flags,
      window: WINDOW,
      ...(options ? { options } : {}),
      ...(payload ? { payload } : {}),
      ipId: me.ipId++,
    });
    const consumed = (payload?.byteLength ?? 0) + (flags & (SYN | FIN) ? 1 : 0);
    me.sent += consumed;
    peer.received += consumed;
    if (flags & ACK) {
      me.acked = me.received;
      me.ackDue = null;
    }
    if (this.held !== null) this.ready.push(this.held);
    this.held = { timestampMicros: Math.round(this.header.epochMs * 1000 + t), frame, comments: this.notes.splice(0) };
  }

  private take(): SynthPacket[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }
}

/** Every packet of a conversation held in memory (tests, small conversations); an export streams instead. */
export function synthesize(conversation: Conversation): SynthPacket[] {
  const synth = new TcpSynthesizer(conversation);
  const packets = synth.start();
  for (const e of conversation.events) packets.push(...synth.push(e));
  packets.push(...synth.finish());
  return packets;
}
