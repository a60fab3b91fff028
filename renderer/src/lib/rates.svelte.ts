/**
 * Live byte rates, computed in the renderer from successive session snapshots (the engine sends counters, not
 * rates). Each session and each connection keeps a short history of (time, bytesIn, bytesOut); its rate is what it
 * moved during the last WINDOW_MS. A ticker re-evaluates the rates so that they fall to zero when traffic stops,
 * even though the engine sends nothing while nothing changes.
 */
import { untrack } from "svelte";
import type { SessionInfo } from "../../../preload/contract.ts";

/** How far back a rate looks. */
export const WINDOW_MS = 2000;
/** How often rates are re-evaluated while nothing arrives. */
const TICK_MS = 500;
/** The shortest span a rate is computed over, so that the first two snapshots don't make a spike. */
const MIN_SPAN_MS = 250;

export interface Rate {
  /** Bytes per second received. */
  in: number;
  /** Bytes per second sent. */
  out: number;
}

interface Sample {
  t: number;
  bytesIn: number;
  bytesOut: number;
}

const IDLE: Rate = { in: 0, out: 0 };

/** The key of a connection's rate; a session's key is its id. */
export function connectionKey(session: string, conn: number): string {
  return `${session}#${conn}`;
}

/**
 * Owned by App (one instance): created during component initialisation, it follows `sessions()` through an effect
 * and ticks until the component is destroyed. Read `of(key)` and `total` from any component; both are reactive.
 */
export class RateMeter {
  /** The current rate per key (session id, or connectionKey). Replaced, never mutated, when something changed. */
  #rates = $state<Record<string, Rate>>({});
  readonly #history = new Map<string, Sample[]>();
  readonly #now: () => number;

  constructor(sessions: () => readonly SessionInfo[], now: () => number = () => performance.now()) {
    this.#now = now;
    $effect(() => {
      this.#sample(sessions());
    });
    $effect(() => {
      const timer = setInterval(() => this.#evaluate(), TICK_MS);
      return () => clearInterval(timer);
    });
  }

  /** The rate of a session (by id) or of a connection (by connectionKey); zero when unknown. */
  of(key: string): Rate {
    return this.#rates[key] ?? IDLE;
  }

  /** The sum over sessions. */
  get total(): Rate {
    let rateIn = 0;
    let rateOut = 0;
    for (const [key, rate] of Object.entries(this.#rates)) {
      if (key.includes("#")) continue;
      rateIn += rate.in;
      rateOut += rate.out;
    }
    return { in: rateIn, out: rateOut };
  }

  /** Records a snapshot's counters. Called by the effect whenever the session list changes. */
  #sample(list: readonly SessionInfo[]): void {
    const t = this.#now();
    const seen = new Set<string>();
    const record = (key: string, bytesIn: number, bytesOut: number) => {
      seen.add(key);
      const samples = this.#history.get(key) ?? [];
      const last = samples.at(-1);
      if (last && last.bytesIn === bytesIn && last.bytesOut === bytesOut) return;
      samples.push({ t, bytesIn, bytesOut });
      this.#history.set(key, samples);
    };
    for (const session of list) {
      record(session.id, session.bytesIn, session.bytesOut);
      for (const c of session.connections) record(connectionKey(session.id, c.conn), c.bytesIn, c.bytesOut);
    }
    for (const key of this.#history.keys()) if (!seen.has(key)) this.#history.delete(key);
    // The effect that calls this tracks the counters it read above, not the rates it writes.
    untrack(() => this.#evaluate());
  }

  /** Recomputes every rate at the current time; replaces the state only when a value changed. */
  #evaluate(): void {
    const t = this.#now();
    const next: Record<string, Rate> = {};
    let changed = false;
    for (const [key, samples] of this.#history) {
      // Keep one sample at or before the window's start: the counters' value when the window opened.
      while (samples.length > 1 && samples[1]!.t <= t - WINDOW_MS) samples.shift();
      const first = samples[0]!;
      const last = samples.at(-1)!;
      const span = Math.max(MIN_SPAN_MS, first.t <= t - WINDOW_MS ? WINDOW_MS : t - first.t);
      const rate =
        last === first
          ? IDLE
          : {
              in: ((last.bytesIn - first.bytesIn) * 1000) / span,
              out: ((last.bytesOut - first.bytesOut) * 1000) / span,
            };
      next[key] = rate;
      const previous = this.#rates[key];
      if (!previous || Math.abs(previous.in - rate.in) >= 1 || Math.abs(previous.out - rate.out) >= 1) changed = true;
    }
    if (changed || Object.keys(next).length !== Object.keys(this.#rates).length) this.#rates = next;
  }
}
