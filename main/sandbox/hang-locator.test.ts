/**
 * The hang locator against a real spinning worker: examining it, again and again as the watchdog does for every
 * silent worker, answers every time and never takes the process down. And the verdict the watchdog gives from
 * what an examination learnt: out of memory or a hang.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { afterEach, expect, test } from "vitest";
import { ateMemory, examineWorker } from "./hang-locator.ts";

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

const MB = 1024 * 1024;
/** A 256 MB worker that had 10 MB in use at its last heartbeat. */
const baseline = { lastHeapUsed: 10 * MB, limit: 256 * MB };

test("a loop making 48 MB of garbage whose collection went unanswered (a busy machine) is a hang", () => {
  expect(ateMemory({ heapUsed: 58 * MB, liveHeap: null, frames: null }, baseline)).toBe(false);
});

test("a heap near its limit, too busy collecting to answer, is out of memory", () => {
  expect(ateMemory({ heapUsed: 230 * MB, liveHeap: null, frames: null }, baseline)).toBe(true);
});

test("after the collection: the growth still held is out of memory, garbage gone is a hang", () => {
  expect(ateMemory({ heapUsed: 120 * MB, liveHeap: 115 * MB, frames: null }, baseline)).toBe(true);
  expect(ateMemory({ heapUsed: 58 * MB, liveHeap: 11 * MB, frames: null }, baseline)).toBe(false);
});

test("a worker that answered nothing is a hang", () => {
  expect(ateMemory({ heapUsed: null, liveHeap: null, frames: null }, baseline)).toBe(false);
});
