/**
 * The script sandbox workers run: worker-main.ts and the core it imports, as one script string, started with
 * `new Worker(code, { eval: true })` (no .ts file can be loaded by a Worker directly, under vitest, tsx or a built
 * app alike).
 *
 * Two layouts, one lookup: the built app (scripts/build-desktop.ts) ships the script prebuilt as
 * `sandbox-worker.js` beside its main bundle, and this module, bundled into that main, finds it next to itself;
 * running from the sources (tsx, vitest) there is no such file beside this one, and the script is bundled here, from
 * worker-main.ts, with esbuild. Both use `WORKER_BUILD_OPTIONS`. An app that ships the script elsewhere passes it to
 * SandboxHost instead (`workerSource` option).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions } from "esbuild";

/** The prebuilt worker script's file name, beside the built main bundle. */
export const PREBUILT_WORKER = "sandbox-worker.js";

/** The worker's entry, in the sources. */
export const WORKER_ENTRY = fileURLToPath(new URL("./worker-main.ts", import.meta.url));

/** How the worker script is bundled, at run time here and ahead of time by the desktop build. */
export const WORKER_BUILD_OPTIONS = {
  bundle: true,
  // A function scope: an eval'd worker script runs in the global scope, where a top-level `var crypto` (say)
  // would collide with Node's read-only globals. `require` is the eval context's.
  format: "iife",
  platform: "node",
  target: "node20",
  // Class names stay as written: the core's loggers are named after them (`this.constructor.name`).
  keepNames: true,
  logLevel: "silent",
} as const satisfies BuildOptions;

let cached: Promise<string> | null = null;

/**
 * The worker script. The first call reads the prebuilt one or bundles (about 50-100 ms); later calls return the same
 * promise. A failure is not cached, so the next call tries again.
 */
export function workerSource(): Promise<string> {
  cached ??= loadWorker().catch((err: unknown) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function loadWorker(): Promise<string> {
  try {
    return await readFile(new URL(`./${PREBUILT_WORKER}`, import.meta.url), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return bundleWorker();
}

async function bundleWorker(): Promise<string> {
  let result;
  try {
    result = await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [WORKER_ENTRY], write: false });
  } catch (err) {
    throw new Error(
      `The sandbox worker script is missing: there is no prebuilt ${PREBUILT_WORKER} beside the engine, and it ` +
        `could not be bundled from ${WORKER_ENTRY} (${(err as Error).message}). Rebuild with \`npm run build:desktop\`.`,
      { cause: err },
    );
  }
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("esbuild produced no sandbox worker script");
  return output.text;
}
