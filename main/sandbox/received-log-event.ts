/**
 * A protocol's log event as the main thread hands it to the engine (SandboxEvents.onLog): what the worker sent, its
 * text and fields decoded only if read. Most arrive as binary entries whose capture payload head the worker wrote
 * (wire-log-entries.ts, LogEntryEvent); the engine records that head by copying it (main/recording/
 * encoded-log-event.ts). An event that crossed as an object (what the watchdog read from a hung worker's queue) is
 * a ReceivedLogEvent, which writes its head when asked.
 */
import { FIELDS_PREFIX, LogEntryEvent, TEXT_PREFIX } from "./wire-log-entries.ts";
import type { SandboxLogEvent, WireLogEvent } from "./messages.ts";
import { isLogLevel } from "./wire-log-event.ts";

/** The engine's event for a worker's "log" operation: an entry's own event, or the object form wrapped. */
export function receivedLogEvent(wire: WireLogEvent): SandboxLogEvent {
  return wire instanceof LogEntryEvent ? wire : new ReceivedLogEvent(wire);
}

/**
 * A log event that crossed as an object (WireLogEvent); the engine's to keep. What user code could have put in it
 * (it can post on its worker's port) is made safe to record: a level the engine doesn't know is "info", text that
 * is not a string is empty, fields that are not the JSON text of an object are replaced by a note saying so.
 */
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
    this.level = isLogLevel(wire.level) ? wire.level : "info";
    this.namespace = typeof wire.namespace === "string" ? wire.namespace : "(no namespace)";
    this.text = typeof wire.text === "string" ? wire.text : "";
    this.#fields = fieldsOf(wire.fieldsJson);
    this.fieldsJson = this.#fields === null ? UNREADABLE_FIELDS : wire.fieldsJson;
    this.time = typeof wire.time === "number" && Number.isFinite(wire.time) ? wire.time : Date.now() / 1000;
    if (wire.message !== undefined) this.message = wire.message;
  }

  /** The fields (parsed as the event arrived, to check them); the same object each time. */
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

const UNREADABLE_FIELDS = JSON.stringify({ unreadable: "the sandbox sent fields that are not the JSON of an object" });

/** The object `json` is the JSON text of, or null when it is not one. */
function fieldsOf(json: unknown): Record<string, unknown> | null {
  if (typeof json !== "string") return null;
  try {
    const fields = JSON.parse(json) as unknown;
    return typeof fields === "object" && fields !== null && !Array.isArray(fields)
      ? (fields as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
