/**
 * How the engine's worker threads get their scripts (the sandbox's, the capture thread's): each worker's entry is a
 * TypeScript module, bundled with what it imports into one script string and started with
 * `new Worker(code, { eval: true })` (no .ts file can be loaded by a Worker directly, under vitest, tsx or a built
 * app alike).
 *
 * Two layouts, one lookup: the built app (scripts/build-desktop.ts, through `prebuild`) ships each script prebuilt
 * beside its main bundle, and this module, bundled into that main, finds it next to itself; running from the
 * sources (tsx, vitest) there is no such file beside this one, and the script is bundled here, from its entry, with
 * esbuild. Both use the same build options.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { build, type BuildOptions } from "esbuild";

/** How a worker script is bundled, at run time here and ahead of time by the desktop build. */
const WORKER_BUILD_OPTIONS = {
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

/**
 * One worker's script. Declared once per kind of worker, by the module that starts it; `source()` is what that
 * module passes to `new Worker(..., { eval: true })`.
 */
export class WorkerBundle {
  private cached: Promise<string> | null = null;

  constructor(
    /** What the worker is, for messages ("sandbox worker"). */
    readonly name: string,
    /** Its entry module in the sources, an absolute path (only read where no prebuilt script is found). */
    readonly entry: string,
    /** The prebuilt script's file name, beside the built main bundle. */
    readonly prebuilt: string,
  ) {}

  /**
   * The script. The first call reads the prebuilt one or bundles it from the sources (about 50-100 ms); later calls
   * return the same promise. A failure is not cached, so the next call tries again.
   */
  source(): Promise<string> {
    this.cached ??= this.load().catch((err: unknown) => {
      this.cached = null;
      throw err;
    });
    return this.cached;
  }

  /**
   * Bundles the script into `dir` (the built main bundle's folder), where `source()` of the built app finds it;
   * returns its path. For the desktop build; rejects with esbuild's errors.
   */
  async prebuild(dir: string): Promise<string> {
    const outfile = path.join(dir, this.prebuilt);
    await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [this.entry], outfile, write: true });
    return outfile;
  }

  private async load(): Promise<string> {
    try {
      return await readFile(new URL(`./${this.prebuilt}`, import.meta.url), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return this.bundle();
  }

  private async bundle(): Promise<string> {
    let result;
    try {
      result = await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [this.entry], write: false });
    } catch (err) {
      throw new Error(
        `The ${this.name} script is missing: there is no prebuilt ${this.prebuilt} beside the engine, and it ` +
          `could not be bundled from ${this.entry} (${(err as Error).message}). Rebuild with \`npm run build:desktop\`.`,
        { cause: err },
      );
    }
    const output = result.outputFiles[0];
    if (output === undefined) throw new Error(`esbuild produced no ${this.name} script`);
    return output.text;
  }
}
