/**
 * A protocol's log event as the main thread hands it to the engine (SandboxEvents.onLog): what the worker sent, its
 * text and fields decoded only if read. Most arrive as binary entries whose capture payload head the worker wrote
 * (wire-log-entries.ts, LogEntryEvent); the engine records that head by copying it (main/recording/
 * encoded-log-event.ts). An event that crossed as an object (what the watchdog read from a hung worker's queue) is
 * a ReceivedLogEvent, which writes its head when asked.
 */
import { FIELDS_PREFIX, LogEntryEvent, TEXT_PREFIX } from "./wire-log-entries.ts";
import type { SandboxLogEvent, WireLogEvent } from "./messages.ts";

/** The engine's event for a worker's "log" operation: an entry's own event, or the object form wrapped. */
export function receivedLogEvent(wire: WireLogEvent): SandboxLogEvent {
  return wire instanceof LogEntryEvent ? wire : new ReceivedLogEvent(wire);
}

/** A log event that crossed as an object (WireLogEvent); the engine's to keep. */
export class ReceivedLogEvent implements SandboxLogEvent {
  readonly level: SandboxLogEvent["level"];
  readonly namespace: string;
  readonly text: string;
  readonly fieldsJson: string;
  readonly time: number;
  readonly message?: unknown;
  #fields: Record<string, unknown> | null = null;
  #head: string | null = null;

  constructor(wire: WireLogEvent) {
    this.level = wire.level;
    this.namespace = wire.namespace;
    this.text = wire.text;
    this.fieldsJson = wire.fieldsJson;
    this.time = wire.time;
    if (wire.message !== undefined) this.message = wire.message;
  }

  /** The fields, parsed from `fieldsJson` the first time they are read; the same object afterwards. */
  get fields(): Record<string, unknown> {
    this.#fields ??= JSON.parse(this.fieldsJson) as Record<string, unknown>;
    return this.#fields;
  }

  get headBytes(): number {
    return Buffer.byteLength(this.#payloadHead(), "utf8");
  }

  /** The worker wrote no more than the head for an event that crossed as an object. */
  payloadBytesFor(): number {
    return -1;
  }

  copyPayload(target: Uint8Array, at: number, bytes: number): void {
    Buffer.from(target.buffer, target.byteOffset, target.byteLength).write(this.#payloadHead(), at, bytes, "utf8");
  }

  #payloadHead(): string {
    this.#head ??= `${TEXT_PREFIX}${JSON.stringify(this.text)}${FIELDS_PREFIX}${this.fieldsJson}`;
    return this.#head;
  }
}
