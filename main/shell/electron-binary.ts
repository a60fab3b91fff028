/**
 * Whether this machine has Electron's binary, and what `npm start` does about it (main/start.ts wires this to the
 * file system and child processes). Found the way the electron package's own index.js finds it — its `path.txt`
 * names the executable under its `dist/` (or under $ELECTRON_OVERRIDE_DIST_PATH) — without loading that module:
 * under Node, `require("electron")` downloads the binary when it is missing, and a start command must not do that
 * behind the user's back when downloads are turned off (ELECTRON_SKIP_BINARY_DOWNLOAD, as on CI and here).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** What the check reads: the electron package's folder and two file system questions. */
export interface ElectronPackage {
  /** node_modules/electron, or null when the package is not installed. */
  dir: string | null;
  exists(file: string): boolean;
  /** A file's text, or null when it cannot be read. */
  readText(file: string): string | null;
}

/** The electron package installed for the project at `root` (its package.json's folder), on the real disk. */
export function electronPackageAt(root: string): ElectronPackage {
  let dir: string | null;
  try {
    dir = path.dirname(createRequire(path.join(root, "package.json")).resolve("electron/package.json"));
  } catch {
    dir = null;
  }
  return {
    dir,
    exists: existsSync,
    readText: (file) => {
      try {
        return readFileSync(file, "utf8");
      } catch {
        return null;
      }
    },
  };
}

/** Where the binary is, or why there is none, in words for the person who ran `npm start`. */
export type ElectronBinary = { found: true; executable: string } | { found: false; reason: string };

/** Finds Electron's executable for this platform (what node_modules/electron/index.js would return). */
export function findElectronBinary(pkg: ElectronPackage, env: NodeJS.ProcessEnv = process.env): ElectronBinary {
  if (pkg.dir === null) {
    return { found: false, reason: "the electron package is not installed (node_modules/electron is missing)" };
  }
  const named = pkg.readText(path.join(pkg.dir, "path.txt"))?.trim() ?? "";
  const override = env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const executable = path.join(override, named || "electron");
    return pkg.exists(executable)
      ? { found: true, executable }
      : { found: false, reason: `ELECTRON_OVERRIDE_DIST_PATH is set, but ${executable} does not exist` };
  }
  if (named === "") {
    return {
      found: false,
      reason: "its binary was never downloaded (node_modules/electron has no path.txt and no dist/)",
    };
  }
  const executable = path.join(pkg.dir, "dist", named);
  return pkg.exists(executable)
    ? { found: true, executable }
    : { found: false, reason: `its binary is missing (${executable} does not exist)` };
}

/**
 * The longest a download of the binary may take before `npm start` gives up on it and runs browser mode (a download
 * of about 100 MB that takes longer is stuck behind a proxy or a dead network, not slow).
 */
export const DOWNLOAD_TIMEOUT_MS = 2 * 60_000;

/** What `npm start` prints before it downloads the binary, so that the wait is not a silent one. */
export const DOWNLOADING_MESSAGE = `Wirescope: downloading Electron's binary (about 100 MB, once; giving up after ${DOWNLOAD_TIMEOUT_MS / 60_000} minutes)...\n`;

/** What `npm start` does next. */
export type StartDecision =
  | { action: "launch"; executable: string }
  /** Run the electron package's installer (it downloads the binary), then decide again with `downloaded: true`. */
  | { action: "download" }
  /** Run browser mode instead (main/start.ts), after printing `message` on stderr. */
  | { action: "browser"; message: string };

/**
 * Decides, from what `findElectronBinary` found: launch it; or, when it is missing and downloads are allowed and
 * not yet tried, download it (what `npm install` of older Electrons did on its own); or else run the same workbench
 * and engine in the browser, saying why and how to get the desktop app, so that `npm start` always runs the app.
 */
export function decideStart(
  binary: ElectronBinary,
  options: { env?: NodeJS.ProcessEnv; downloaded?: boolean } = {},
): StartDecision {
  if (binary.found) return { action: "launch", executable: binary.executable };
  const env = options.env ?? process.env;
  const skip = Boolean(env.ELECTRON_SKIP_BINARY_DOWNLOAD) && env.ELECTRON_SKIP_BINARY_DOWNLOAD !== "0";
  if (!skip && !options.downloaded) return { action: "download" };
  const why = skip
    ? "ELECTRON_SKIP_BINARY_DOWNLOAD is set, so it is not downloaded"
    : "downloading it failed (see above)";
  return { action: "browser", message: browserInsteadMessage(`${binary.reason}; ${why}`, skip) };
}

/**
 * The two lines `npm start` prints on stderr when it runs browser mode for want of Electron's binary: why, and how
 * to get the desktop app. `skipSet`: ELECTRON_SKIP_BINARY_DOWNLOAD is what stopped the download, so unsetting it is
 * another way to get the binary.
 */
export function browserInsteadMessage(reason: string, skipSet: boolean): string {
  const unset = skipSet ? " (or unset ELECTRON_SKIP_BINARY_DOWNLOAD)" : "";
  return (
    `Wirescope: no Electron binary here (${reason}): the workbench runs in your browser instead.\n` +
    `Wirescope: for the desktop app, run \`npx install-electron\` in this folder with internet access${unset}, ` +
    "then `npm start` again.\n"
  );
}
