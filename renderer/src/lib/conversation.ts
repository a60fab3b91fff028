/**
 * Follow TCP Stream: one connection's bytes as text, each direction in its own segment, kept live and capped.
 *
 * `ConversationScan` finds the connection's chunks: backwards from the end of the timeline until it has
 * CONVERSATION_CAP bytes, reaches the start, or has looked at SCAN_LIMIT events (a connection's bytes can be thinly
 * spread over a big session); then forwards as the timeline grows. `ConversationText` turns chunks into segments and
 * keeps only the last CONVERSATION_CAP characters, dropping whole segments (and then the head of the first one)
 * from the front: that is all the DOM ever holds.
 *
 * Plain TypeScript; Conversation.svelte owns both and disposes the scan.
 */
import type { DataEvent, Direction, TimelineEvent } from "../../../preload/timeline.ts";
import { asciiWithNewlines, showControls } from "./bytes.ts";
import type { ReadTimeline } from "./timeline-cache.ts";

/** What the conversation keeps (and the DOM holds): the last 1 MiB, in characters of text. */
export const CONVERSATION_CAP = 1024 * 1024;
/** Events looked at, backwards from the end, to find a connection's recent bytes. */
export const SCAN_LIMIT = 200_000;
/** Events per read. */
const SCAN_PAGE = 1000;

/** How bytes become text: printable ASCII with "·" for the rest (Wireshark's default), or UTF-8. */
export type ConversationMode = "ascii" | "utf-8";

/** A run of text that went one way. Immutable: an append replaces the last segment with a longer one. */
export interface Segment {
  id: number;
  dir: Direction;
  text: string;
}

export class ConversationText {
  /** The segments, oldest first; a new array after every change (so a keyed {#each} updates only what changed). */
  segments: readonly Segment[] = [];
  /** Characters dropped from the front to stay under the cap. */
  dropped = 0;
  private chars = 0;
  private nextId = 1;
  private readonly decoders: Record<Direction, TextDecoder> | null;

  constructor(
    readonly mode: ConversationMode,
    private readonly cap = CONVERSATION_CAP,
  ) {
    this.decoders = mode === "utf-8" ? { in: new TextDecoder("utf-8"), out: new TextDecoder("utf-8") } : null;
  }

  /** Adds chunks in timeline order. UTF-8 is decoded per direction as a stream, so a split character survives. */
  append(chunks: readonly DataEvent[]): void {
    if (chunks.length === 0) return;
    const segments = [...this.segments];
    for (const { dir, data } of chunks) {
      const text = this.decoders
        ? showControls(this.decoders[dir].decode(data, { stream: true }))
        : asciiWithNewlines(data);
      if (text === "") continue;
      const last = segments[segments.length - 1];
      if (last && last.dir === dir) segments[segments.length - 1] = { ...last, text: last.text + text };
      else segments.push({ id: this.nextId++, dir, text });
      this.chars += text.length;
    }
    while (this.chars > this.cap && segments.length > 0) {
      const first = segments[0]!;
      const over = this.chars - this.cap;
      if (first.text.length <= over) {
        segments.shift();
        this.chars -= first.text.length;
        this.dropped += first.text.length;
      } else {
        segments[0] = { ...first, text: first.text.slice(over) };
        this.chars -= over;
        this.dropped += over;
      }
    }
    this.segments = segments;
  }
}

export class ConversationScan {
  /** The first seq looked at: 0 when the scan reached the start of the timeline. */
  from: number;
  private hi: number;
  private targetHi: number;
  private running = false;
  private disposed = false;
  /** Set once the backward scan is done (the first `onChunks` call has happened). */
  ready = false;

  /**
   * Starts at once. `onChunks` receives the connection's chunks in timeline order: first everything the backward
   * scan found (possibly none), then each batch that arrives.
   */
  constructor(
    private readonly read: ReadTimeline,
    private readonly conn: number,
    private readonly onChunks: (chunks: DataEvent[]) => void,
    total: number,
    private readonly capBytes = CONVERSATION_CAP,
    private readonly scanLimit = SCAN_LIMIT,
  ) {
    this.from = total;
    this.hi = total;
    this.targetHi = total;
    void this.start(total);
  }

  /** The timeline grew to `total`. */
  grow(total: number): void {
    if (total <= this.targetHi) return;
    this.targetHi = total;
    if (this.ready) void this.pump();
  }

  dispose(): void {
    this.disposed = true;
  }

  private isMine(e: TimelineEvent): e is DataEvent {
    return e.kind === "data" && e.conn === this.conn;
  }

  private async start(total: number): Promise<void> {
    const pages: DataEvent[][] = [];
    let bytes = 0;
    let cursor = total;
    while (cursor > 0 && bytes < this.capBytes && total - cursor < this.scanLimit) {
      const from = Math.max(0, cursor - SCAN_PAGE);
      const events = await this.readRange(from, cursor);
      if (!events) break;
      const mine = events.filter((e) => this.isMine(e));
      pages.push(mine);
      for (const e of mine) bytes += e.data.byteLength;
      cursor = from;
    }
    if (this.disposed) return;
    this.from = cursor;
    this.ready = true;
    this.onChunks(pages.reverse().flat());
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.disposed && this.hi < this.targetHi) {
        const end = Math.min(this.targetHi, this.hi + SCAN_PAGE);
        const events = await this.readRange(this.hi, end);
        if (!events || this.disposed) return;
        this.hi = end;
        const mine = events.filter((e) => this.isMine(e));
        if (mine.length > 0) this.onChunks(mine);
      }
    } finally {
      this.running = false;
    }
  }

  /** All events of [from, end), in as many reads as the engine's per-read byte limit needs; null on failure. */
  private async readRange(from: number, end: number): Promise<TimelineEvent[] | null> {
    const out: TimelineEvent[] = [];
    let at = from;
    while (at < end) {
      const result = await this.read(at, end - at);
      if (this.disposed || !result || result.events.length === 0) return null;
      for (const e of result.events) out.push(e);
      at = result.events[result.events.length - 1]!.seq + 1;
    }
    return out;
  }
}
