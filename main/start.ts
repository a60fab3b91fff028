/**
 * `npm start`: runs the desktop app. Finds Electron's binary without loading the electron module
 * (main/shell/electron-binary.ts decides); downloads it first where that is allowed; builds the workbench and the
 * desktop bundles (`npm run build:renderer`, `npm run build:desktop`); then runs Electron on this folder and exits
 * with its exit code. Where there is no binary and none may be downloaded, it says so, how to get one, and points
 * at browser mode (`npm run serve`), the same workbench and engine; exit code 1.
 */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  DOWNLOAD_TIMEOUT_MS,
  DOWNLOADING_MESSAGE,
  decideStart,
  electronPackageAt,
  findElectronBinary,
  type ElectronBinary,
} from "./shell/electron-binary.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function lookForElectron(): ElectronBinary {
  return findElectronBinary(electronPackageAt(ROOT));
}

/** Runs an npm script in this folder, its output shown; exits with its code when it fails. */
function npmRun(script: string): void {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["run", "--silent", script], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(`Wirescope: \`npm run ${script}\` failed; the desktop app was not started.\n`);
    process.exit(result.status ?? 1);
  }
}

let decision = decideStart(lookForElectron());
if (decision.action === "download") {
  const { dir } = electronPackageAt(ROOT);
  process.stdout.write(DOWNLOADING_MESSAGE);
  if (dir !== null) {
    spawnSync(process.execPath, [path.join(dir, "install.js")], { stdio: "inherit", timeout: DOWNLOAD_TIMEOUT_MS });
  }
  decision = decideStart(lookForElectron(), { downloaded: true });
}
if (decision.action === "explain") {
  process.stdout.write(decision.message);
  process.exit(decision.exitCode);
}
if (decision.action === "launch") {
  npmRun("build:renderer");
  npmRun("build:desktop");
  const child = spawn(decision.executable, ["."], { cwd: ROOT, stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
}
