/**
 * Keeps a replay's report (how its new answers compare with the recorded ones) up to date for the replay view.
 * The view calls `refresh()` whenever the engine says the session changed or its timeline grew; this asks for the
 * report at most once at a time and at most every MIN_INTERVAL_MS, so a busy replay costs a few requests a second,
 * however many notices arrive. While the replay runs with no notice at all (a peer that answers nothing), it still
 * asks every IDLE_INTERVAL_MS. The view owns the watch and disposes it when it goes.
 */
import type { ReplayReport, WirescopeApi } from "../../../preload/contract.ts";

/** The shortest time between two requests for the report. */
export const MIN_INTERVAL_MS = 150;
/** How often the report is asked for while the replay runs and nothing is heard of it. */
export const IDLE_INTERVAL_MS = 1000;

export class ReplayWatch {
  #report = $state.raw<ReplayReport | null>(null);
  #error = $state<string | null>(null);

  readonly #api: Pick<WirescopeApi, "replayReport">;
  readonly #session: string;
  #inFlight = false;
  #wanted = false;
  #lastAsked = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #idle: ReturnType<typeof setInterval>;
  #disposed = false;

  constructor(api: Pick<WirescopeApi, "replayReport">, session: string) {
    this.#api = api;
    this.#session = session;
    this.#idle = setInterval(() => {
      if (this.#report === null || this.#report.state === "running") this.refresh();
    }, IDLE_INTERVAL_MS);
    this.refresh();
  }

  /** The last report, or null before the first one arrives. */
  get report(): ReplayReport | null {
    return this.#report;
  }

  /** Why the report could not be read, if it could not. */
  get error(): string | null {
    return this.#error;
  }

  /** Asks for the report soon: now, or after the request in flight and the minimum interval. */
  refresh(): void {
    if (this.#disposed) return;
    this.#wanted = true;
    if (this.#inFlight || this.#timer !== null) return;
    const wait = this.#lastAsked + MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.refresh();
      }, wait);
      return;
    }
    void this.#ask();
  }

  async #ask(): Promise<void> {
    this.#wanted = false;
    this.#inFlight = true;
    this.#lastAsked = Date.now();
    try {
      const result = await this.#api.replayReport({ session: this.#session });
      if (this.#disposed) return;
      if (result.ok) {
        this.#report = result.value;
        this.#error = null;
      } else {
        this.#error = result.error.message;
      }
    } finally {
      this.#inFlight = false;
      if (this.#wanted) this.refresh();
    }
  }

  /** Stops asking. Called by the view's owner when the view goes. */
  dispose(): void {
    this.#disposed = true;
    clearInterval(this.#idle);
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}
