/**
 * The script sandbox workers run: worker-main.ts and the core it imports, bundled by esbuild into one script
 * string at run time, once per process, and started with `new Worker(code, { eval: true })`.
 *
 * Bundling at run time makes the worker start the same way under vitest, tsx and (later) a bundled Electron main,
 * where no .ts file can be loaded by a Worker directly. An app that ships a prebuilt script passes it to
 * SandboxHost instead (`workerSource` option).
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

let cached: Promise<string> | null = null;

/**
 * The worker script. The first call bundles (about 50-100 ms); later calls return the same promise. A failed
 * bundle is not cached, so the next call tries again.
 */
export function workerSource(): Promise<string> {
  cached ??= bundleWorker().catch((err: unknown) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./worker-main.ts", import.meta.url))],
    bundle: true,
    // A function scope: an eval'd worker script runs in the global scope, where a top-level `var crypto` (say)
    // would collide with Node's read-only globals. `require` is the eval context's.
    format: "iife",
    platform: "node",
    target: "node20",
    // Class names stay as written: the core's loggers are named after them (`this.constructor.name`).
    keepNames: true,
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("esbuild produced no sandbox worker script");
  return output.text;
}
