/**
 * One long engine command at a time (an import, an export, a decode) as its dialog or button shows it: `run` gives
 * the command a new operation id and follows that id's onProgress events until the command settles; `cancel` asks
 * the engine to stop it, and the command then fails with "cancelled" (the engine keeps nothing of it). Owned by the
 * component that runs the command; nothing to dispose once `run` has settled.
 */
import type { EventPayload, WirescopeApi } from "../../../preload/contract.ts";
import { formatBytes } from "./format.ts";

export class OperationProgress {
  /** Whether a command is running under this. */
  running = $state(false);
  /** The last progress the engine reported for it; null until the first (and when none runs). */
  latest = $state.raw<EventPayload<"onProgress"> | null>(null);
  /** Set by `cancel` until the command settles: the Cancel button is then pressed already. */
  cancelling = $state(false);
  #operation: string | null = null;

  /** `kind` starts the ids ("import", "export", "decode"), for whoever reads the engine's log. */
  constructor(
    private readonly api: WirescopeApi,
    private readonly kind: string,
  ) {}

  /** Runs `command` with a new operation id, following its progress; returns what it returns. */
  async run<T>(command: (operation: string) => Promise<T>): Promise<T> {
    const operation = `${this.kind}-${crypto.randomUUID()}`;
    this.#operation = operation;
    this.running = true;
    const off = this.api.onProgress((progress) => {
      if (progress.operation === operation) this.latest = progress;
    });
    try {
      return await command(operation);
    } finally {
      off();
      this.#operation = null;
      this.running = false;
      this.cancelling = false;
      this.latest = null;
    }
  }

  /** Asks the engine to stop the running command; its `run` then resolves with a "cancelled" error result. */
  cancel(): void {
    if (this.#operation === null || this.cancelling) return;
    this.cancelling = true;
    void this.api.cancel({ operation: this.#operation });
  }

  /** "1.0 MB of 3.6 MB", "4,096 of 10,003 events"; "Starting…" before the first report. */
  get text(): string {
    const p = this.latest;
    if (p === null) return "Starting…";
    const amount = (n: number) => (p.unit === "bytes" ? formatBytes(n) : n.toLocaleString("en-US"));
    const of = p.total === null ? amount(p.done) : `${amount(p.done)} of ${amount(p.total)}`;
    return p.unit === "events" ? `${of} events` : of;
  }
}
