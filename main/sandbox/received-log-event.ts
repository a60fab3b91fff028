/**
 * A protocol's log event as the main thread hands it to the engine (SandboxEvents.onLog): what the worker sent, its
 * fields kept as the JSON text the worker wrote and parsed only if read. The engine records that text as it is
 * (main/recording/encoded-log-event.ts); a protocol logging every message it decodes never has its fields parsed on
 * the engine's thread.
 */
import type { SandboxLogEvent, WireLogEvent } from "./messages.ts";

/** Made by the group or the connection that applies a worker's "log" operation; the engine's to keep. */
export class ReceivedLogEvent implements SandboxLogEvent {
  readonly level: SandboxLogEvent["level"];
  readonly namespace: string;
  readonly text: string;
  readonly fieldsJson: string;
  readonly time: number;
  readonly message?: unknown;
  #fields: Record<string, unknown> | null = null;

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
}
