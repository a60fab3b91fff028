/**
 * A log event whose capture payload is bytes already: a sandboxed protocol's, whose worker wrote the UTF-8 of
 * `{"text":<text>,"fields":<fields>` and, for a plain line or a message of plain spans, the rest
 * (main/sandbox/wire-log-entries.ts). A protocol reporting every message it decodes sends hundreds of thousands a
 * second; the engine's thread records each by copying those bytes (writing the message parts after the head itself
 * when they differ from the worker's: capture-writer.ts), without decoding its text or fields or encoding them
 * again: they are decoded only when someone reads them.
 */
import type { LogTimelineEvent, MessagePair, Span } from "../../preload/timeline.ts";

/**
 * A log event's capture payload as bytes someone wrote ahead (a sandbox worker: main/sandbox/wire-log-entries.ts):
 * the head, the UTF-8 of `{"text":<text as JSON>,"fields":<fields as JSON>`, and for the usual events the rest.
 */
export interface PayloadBytes {
  /** The head's length in bytes. */
  readonly headBytes: number;
  /**
   * The whole payload's length in bytes when it was written for a message of exactly `spans` (undefined: a plain
   * log line) and nothing else (no field spans, no pairing), or -1 when it wasn't.
   */
  payloadBytesFor(spans: readonly Span[] | undefined): number;
  /** Writes the first `bytes` of the payload (`headBytes`, or what `payloadBytesFor` said) into `target` at `at`. */
  copyPayload(target: Uint8Array, at: number, bytes: number): void;
}

/** What an EncodedLogEvent is made from (the engine's sandboxed log events are): text and fields decoded when read. */
export interface EncodedLog extends PayloadBytes {
  readonly text: string;
  readonly fields: Record<string, unknown>;
}

/**
 * A LogTimelineEvent whose text and fields are its source's, read when asked. Made by the engine for a sandboxed
 * protocol's log event (seq -1 until the recorder numbers it: `numbered`). It never crosses IPC as it is: what the
 * recorder gives to readers is `plain()` (a class instance's `text` and `fields` would not cross, being accessors);
 * in-process watchers of a session's events get it as it is (main/engine/recorded-events.ts).
 */
export class EncodedLogEvent implements LogTimelineEvent {
  readonly kind = "log";
  spans?: Span[];
  fieldSpans?: Record<string, Span[]>;
  pair?: MessagePair;

  constructor(
    readonly seq: number,
    readonly t: number,
    readonly conn: number,
    readonly level: LogTimelineEvent["level"],
    /** The text, the fields and the payload head. */
    readonly source: EncodedLog,
  ) {}

  get text(): string {
    return this.source.text;
  }

  get fields(): Record<string, unknown> {
    return this.source.fields;
  }

  /** This event as record `seq` at `t`, its message parts as they are now (a response's pairing filled in). */
  numbered(seq: number, t: number): EncodedLogEvent {
    const event = new EncodedLogEvent(seq, t, this.conn, this.level, this.source);
    if (this.spans !== undefined) event.spans = this.spans;
    if (this.fieldSpans !== undefined) event.fieldSpans = this.fieldSpans;
    if (this.pair !== undefined) event.pair = this.pair;
    return event;
  }

  /** The event as a plain object, as a capture reader would give it back. */
  plain(): LogTimelineEvent {
    const { seq, t, conn, level, text } = this;
    const event: LogTimelineEvent = { seq, t, conn, kind: "log", level, text, fields: this.fields };
    if (this.spans !== undefined) event.spans = this.spans;
    if (this.fieldSpans !== undefined) event.fieldSpans = this.fieldSpans;
    if (this.pair !== undefined) event.pair = this.pair;
    return event;
  }
}
