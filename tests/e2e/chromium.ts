/**
 * Which Chromium the end-to-end tests and the renderer benchmark drive, and how it is launched. No browser is ever
 * downloaded (no `playwright install`): the tests use Debian's /usr/bin/chromium, or the one WIRESCOPE_CHROMIUM names.
 */
import * as fs from "node:fs";

/** The Chromium executable: $WIRESCOPE_CHROMIUM when set, else Debian's. */
export const CHROMIUM = process.env.WIRESCOPE_CHROMIUM || "/usr/bin/chromium";

/**
 * Flags for a quiet, offline, headless run as root in a container: no sandbox (root), no GPU, and nothing that
 * reaches for the network on its own (updates, sync, QUIC probes).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

/** Throws, saying how to get one, when CHROMIUM is not an executable file. Called before any test or bench runs. */
export function assertChromium(): void {
  let found = false;
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
    found = fs.statSync(CHROMIUM).isFile();
  } catch {
    found = false;
  }
  if (!found) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set WIRESCOPE_CHROMIUM`);
  }
}
