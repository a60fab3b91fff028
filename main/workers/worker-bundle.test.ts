/**
 * Worker scripts from the sources: a TypeScript entry, with the modules it imports, becomes one script a Worker
 * runs; it is bundled once per process; a script that can't be had says which and how to get it. (The prebuilt
 * layout is tested on a real build: tests/packaging/desktop-build.test.ts.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WorkerBundle } from "./worker-bundle.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-worker-bundle-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `source` as an eval'd worker and resolves with the first message it posts. */
function firstMessage(source: string, workerData: unknown): Promise<unknown> {
  const worker = new Worker(source, { eval: true, workerData });
  return new Promise<unknown>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  }).finally(() => worker.terminate());
}

describe("WorkerBundle", () => {
  it("bundles a TypeScript entry and what it imports into a script a Worker runs, once", async () => {
    fs.writeFileSync(
      path.join(dir, "shout.ts"),
      `export const shout = (s: string): string => s.toUpperCase() + "!";\n`,
    );
    fs.writeFileSync(
      path.join(dir, "entry.ts"),
      `import { parentPort, workerData } from "node:worker_threads";
       import { shout } from "./shout.ts";
       class Named {}
       parentPort!.postMessage({ said: shout(workerData as string), name: Named.name });\n`,
    );
    const bundle = new WorkerBundle("test worker", path.join(dir, "entry.ts"), "test-worker.js");
    const first = bundle.source();
    expect(bundle.source()).toBe(first);
    expect(await firstMessage(await first, "hello")).toEqual({ said: "HELLO!", name: "Named" });
  });

  it("says which script is missing and how to get it, and tries again on the next call", async () => {
    const entry = path.join(dir, "entry.ts");
    const bundle = new WorkerBundle("test worker", entry, "test-worker.js");
    await expect(bundle.source()).rejects.toThrow(
      /^The test worker script is missing: there is no prebuilt test-worker\.js .*npm run build:desktop/s,
    );
    fs.writeFileSync(entry, `require("node:worker_threads").parentPort.postMessage("there now");\n`);
    expect(await firstMessage(await bundle.source(), null)).toBe("there now");
  });
});
