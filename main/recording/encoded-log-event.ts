/**
 * A log event whose fields are still the JSON text they arrived as: a sandboxed protocol's, whose worker wrote that
 * text (main/sandbox/runtime.ts). A protocol reporting every message it decodes sends hundreds of thousands a
 * second; the engine's thread records each without parsing its fields or writing them again: the capture's payload is
 * built around the text (capture-encoding.ts), and the fields are parsed only when someone reads them.
 */
import type { LogTimelineEvent, MessagePair, Span } from "../../preload/timeline.ts";

/**
 * A LogTimelineEvent with `fields` parsed from `fieldsJson` on first read. Made by the engine for a sandboxed
 * protocol's log event (seq -1 until the recorder numbers it: `numbered`). It never leaves the engine as it is: what
 * the recorder gives to readers is `plain()` (a class instance's `fields` would not cross IPC, being an accessor).
 */
export class EncodedLogEvent implements LogTimelineEvent {
  readonly kind = "log";
  spans?: Span[];
  fieldSpans?: Record<string, Span[]>;
  pair?: MessagePair;
  #fields: Record<string, unknown> | null = null;

  constructor(
    readonly seq: number,
    readonly t: number,
    readonly conn: number,
    readonly level: LogTimelineEvent["level"],
    readonly text: string,
    /** JSON text of a plain object (JSON-safe fields): the fields as the capture stores them. */
    readonly fieldsJson: string,
  ) {}

  /** The fields, parsed from `fieldsJson` the first time they are read; the same object afterwards. */
  get fields(): Record<string, unknown> {
    this.#fields ??= JSON.parse(this.fieldsJson) as Record<string, unknown>;
    return this.#fields;
  }

  /** This event as record `seq` at `t`, its message parts as they are now (a response's pairing filled in). */
  numbered(seq: number, t: number): EncodedLogEvent {
    const event = new EncodedLogEvent(seq, t, this.conn, this.level, this.text, this.fieldsJson);
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
