/**
 * `npm run build:desktop`: builds what the desktop app runs, besides the workbench (renderer/dist, built by Vite),
 * into out/, with esbuild (already a dependency: the engine compiles user protocols with it):
 *
 *     out/main/main.js                   the Electron main process (package.json "main"): main/shell/main.ts, an
 *                                        ES module, with the shell (app-*.js) and the engine in chunks beside it
 *     out/main/serve.js                  browser mode on the same built engine (main/serve.ts), `node out/main/serve.js`
 *     out/main/sandbox-worker.js         the sandbox worker's script (main/sandbox/worker-main.ts, bundled)
 *     out/main/capture-worker.js         the capture thread's script (main/recording/capture-worker-main.ts, bundled)
 *     out/main/templates/*.ts            the protocol templates, read as text (main/workspace/templates.ts)
 *     out/preload/electron-preload.cjs   the preload, CommonJS (a sandboxed preload cannot be an ES module)
 *
 * Nothing in out/ reads the TypeScript sources at run time: the things the engine reads from disk relative to its
 * own module (the templates) are laid out beside the bundle as they are beside the sources, and the worker scripts,
 * bundled from the sources at run time otherwise, are found prebuilt beside it (main/workers/worker-bundle.ts).
 * Packages stay outside the main bundle (electron-builder ships production node_modules; esbuild has to, as its
 * native binary is spawned); the preload bundles everything but "electron". Class names are kept: error codes and
 * logger names come from them.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";
import { CAPTURE_WORKER } from "../main/recording/capture-thread.ts";
import { SANDBOX_WORKER } from "../main/sandbox/worker-bundle.ts";
import { TEMPLATES_DIR, templateFiles } from "../main/workspace/templates.ts";

/** The repository's root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What a build produced, for the caller (and the packaging test) to check. */
export interface DesktopBuild {
  outDir: string;
  /** The main bundle's entry, and the folder of everything it loads. */
  main: string;
  /** Browser mode's entry, on the same chunks. */
  serve: string;
  preload: string;
  /** The worker scripts: the sandbox worker's, the capture thread's. */
  workers: string[];
  templates: string[];
  /** esbuild's account of the main and preload bundles: their inputs and, per output, what it imports. */
  metafiles: { main: Metafile; preload: Metafile };
}

/**
 * Builds main, preload, the worker scripts and the templates into `outDir` (default `<root>/out`), replacing what
 * out/main and out/preload held. Rejects with esbuild's errors (file:line: message) when a source does not build.
 */
export async function buildDesktop(outDir: string = path.join(ROOT, "out")): Promise<DesktopBuild> {
  const mainDir = path.join(outDir, "main");
  const preloadDir = path.join(outDir, "preload");
  await rm(mainDir, { recursive: true, force: true });
  await rm(preloadDir, { recursive: true, force: true });

  const main = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: "main/shell/main.ts", serve: "main/serve.ts" },
    outdir: mainDir,
    // Chunks sit beside the entries: modules find their files relative to import.meta.url, so all of them must
    // share one folder, as worker-bundle.ts and templates.ts expect.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    // Electron 45 runs Node 22; browser mode needs Node 20.19 (package.json engines).
    target: "node20",
    packages: "external",
    external: ["electron"],
    keepNames: true,
    sourcemap: true,
    metafile: true,
    logLevel: "warning",
  });

  const preload = await build({
    absWorkingDir: ROOT,
    entryPoints: ["preload/electron-preload.ts"],
    outfile: path.join(preloadDir, "electron-preload.cjs"),
    bundle: true,
    format: "cjs",
    // A sandboxed preload runs in the renderer with a small `require` (electron, events, timers, url): no Node.
    platform: "browser",
    target: "chrome130",
    external: ["electron"],
    keepNames: true,
    sourcemap: true,
    metafile: true,
    logLevel: "warning",
  });

  const workers = await Promise.all([SANDBOX_WORKER, CAPTURE_WORKER].map((worker) => worker.prebuild(mainDir)));

  const templatesDir = path.join(mainDir, "templates");
  await mkdir(templatesDir, { recursive: true });
  const templates: string[] = [];
  for (const file of templateFiles()) {
    const target = path.join(templatesDir, file);
    await copyFile(new URL(file, TEMPLATES_DIR), target);
    templates.push(target);
  }

  return {
    outDir,
    main: path.join(mainDir, "main.js"),
    serve: path.join(mainDir, "serve.js"),
    preload: path.join(preloadDir, "electron-preload.cjs"),
    workers,
    templates,
    metafiles: { main: main.metafile, preload: preload.metafile },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  buildDesktop().then(
    (result) => {
      const ms = Math.round(performance.now() - started);
      process.stdout.write(
        `Built the desktop app's main process, preload and worker scripts in ${ms} ms:\n` +
          `  ${path.relative(ROOT, result.main)}\n  ${path.relative(ROOT, result.preload)}\n` +
          result.workers.map((worker) => `  ${path.relative(ROOT, worker)}\n`).join("") +
          `  ${path.relative(ROOT, path.dirname(result.templates[0] ?? ""))}/ (${result.templates.length} templates)\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`build:desktop failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
