/**
 * The hang locator against a real spinning worker: examining it, again and again as the watchdog does for every
 * silent worker, answers every time and never takes the process down.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { afterEach, expect, test } from "vitest";
import { examineWorker } from "./hang-locator.ts";

const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

/** A worker running `code`, once it said it started; `name` "" gives it none. */
async function started(name: string, code: string): Promise<Worker> {
  const worker = new Worker(`require("node:worker_threads").parentPort.postMessage("started"); ${code}`, {
    eval: true,
    name,
  });
  workers.push(worker);
  await once(worker, "message");
  return worker;
}

test("a spinning worker among others, examined many times: every examination answers, the process survives", async () => {
  // Other sessions' workers, idle: the inspector announces them too while the examination attaches.
  for (let other = 0; other < 3; other++) await started(`idle ${other}`, "setInterval(() => {}, 1000);");
  const spinner = await started("spinner", "while (true) {}");
  const heaps: (number | null)[] = [];
  for (let round = 0; round < 40; round++) {
    const found = await examineWorker(spinner.threadId, { locate: true, suspect: () => false, timeoutMs: 1000 });
    heaps.push(found.heapUsed);
  }
  expect(heaps.every((heap) => typeof heap === "number" && heap > 0)).toBe(true);
});

test("a spinning worker without a name is found too", async () => {
  const spinner = await started("", "while (true) {}");
  const found = await examineWorker(spinner.threadId, { locate: true, suspect: () => false, timeoutMs: 1000 });
  expect(found.heapUsed).toBeGreaterThan(0);
  expect(found.frames?.some((frame) => frame.url === "[worker eval]")).toBe(true);
});
