/**
 * The engine's running operations: progress throttled to a few events a second (the first and the last always
 * sent), cancel aborting the operation's signal with CancelledError, and the engine's own signal still stopping it.
 * Time is an injected clock.
 */
import { describe, expect, it } from "vitest";
import type { EventName, EventPayload } from "../../preload/contract.ts";
import { CancelledError, Operations, PROGRESS_INTERVAL_MS } from "./operations.ts";

function recording(): {
  sent: EventPayload<"onProgress">[];
  emit: <E extends EventName>(n: E, p: EventPayload<E>) => void;
} {
  const sent: EventPayload<"onProgress">[] = [];
  return { sent, emit: (name, payload) => name === "onProgress" && sent.push(payload as EventPayload<"onProgress">) };
}

describe("Operations", () => {
  it("sends the first report, then one per interval, and always the last", async () => {
    const { sent, emit } = recording();
    let now = 0;
    const operations = new Operations(emit, undefined, () => now);
    await operations.run("op", "bytes", async ({ report }) => {
      for (let done = 1; done <= 10; done++) {
        report(done, 10);
        now += PROGRESS_INTERVAL_MS / 4;
      }
    });
    expect(sent.map((p) => p.done)).toEqual([1, 5, 9, 10]);
    expect(sent[0]).toEqual({ operation: "op", done: 1, total: 10, unit: "bytes" });
  });

  it("aborts a running operation's signal with CancelledError, and forgets it once it is over", async () => {
    const operations = new Operations(() => {}, undefined);
    const reason = await operations.run("op", "events", async ({ signal }) => {
      expect(operations.cancel("op")).toBe(true);
      return signal?.reason as unknown;
    });
    expect(reason).toBeInstanceOf(CancelledError);
    expect(operations.cancel("op")).toBe(false);
  });

  it("cancels a command whose id was cancelled before it came, without running it", async () => {
    const operations = new Operations(() => {}, undefined);
    expect(operations.cancel("op")).toBe(false);
    let ran = false;
    const run = operations.run("op", "bytes", async () => {
      ran = true;
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(ran).toBe(false);
    // Remembered once: the next command under that id runs.
    await operations.run("op", "bytes", async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it("stops at the engine's own signal too, with or without an id", async () => {
    const engine = new AbortController();
    const operations = new Operations(() => {}, engine.signal);
    engine.abort(new Error("shutting down"));
    for (const id of ["op", undefined]) {
      const aborted = await operations.run(id, "events", async ({ signal }) => signal?.aborted);
      expect(aborted).toBe(true);
    }
  });
});
