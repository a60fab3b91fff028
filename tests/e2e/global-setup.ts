/**
 * Runs once before the end-to-end tests. Without a Chromium or a built workbench there is nothing to test: the run
 * fails here with what to do, rather than skipping. A build older than the sources is tested, with a warning.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RENDERER_DIST, ROOT, assertRendererBuilt } from "./browser-mode.ts";
import { assertChromium } from "./chromium.ts";

export default function globalSetup(): void {
  assertChromium();
  assertRendererBuilt();
  const built = fs.statSync(path.join(RENDERER_DIST, "index.html")).mtimeMs;
  const newer = newestFile(path.join(ROOT, "renderer", "src"));
  if (newer && newer.mtimeMs > built) {
    console.warn(
      `warning: ${path.relative(ROOT, newer.file)} changed after the workbench was built: these tests run the ` +
        "previous build. `npm run test:e2e` builds it first.",
    );
  }
}

/** The most recently modified file under `dir` that goes into the build (unit tests don't). */
function newestFile(dir: string): { file: string; mtimeMs: number } | null {
  let newest: { file: string; mtimeMs: number } | null = null;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.name.endsWith(".test.ts")) continue;
    const file = path.join(entry.parentPath, entry.name);
    const { mtimeMs } = fs.statSync(file);
    if (!newest || mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
  }
  return newest;
}
