/**
 * `npm start`: runs the app. Finds Electron's binary without loading the electron module
 * (main/shell/electron-binary.ts decides); downloads it first where that is allowed; builds the workbench and the
 * desktop bundles (`npm run build:renderer`, `npm run build:desktop`); then runs Electron on this folder and exits
 * with its exit code.
 *
 * Where there is no binary and none can be had (offline, behind a proxy, ELECTRON_SKIP_BINARY_DOWNLOAD), it says so
 * on stderr with how to get the desktop app, builds the workbench and runs browser mode (main/serve.ts, the same
 * workbench and engine, as `npm run serve` does) in a child process: its address is printed, the system browser is
 * opened on it where there is one (main/shell/system-browser.ts: never with BROWSER=none, nor without a display),
 * and it runs until Ctrl+C, exiting with browser mode's exit code (0 once stopped).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { browserCommand } from "./shell/system-browser.ts";
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
    process.stderr.write(`Wirescope: \`npm run ${script}\` failed; the app was not started.\n`);
    process.exit(result.status ?? 1);
  }
}

/** Runs `child` until it exits, passing Ctrl+C and SIGTERM on to it; then exits with its exit code. */
function runUntilExit(child: ChildProcess): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
}

/** Opens the system browser on `url` where there is one; if that fails, the printed address is still there. */
function openBrowser(url: string): void {
  const command = browserCommand(url, process.platform, process.env);
  if (command === null) return;
  const opener = spawn(command.command, command.args, {
    stdio: "ignore",
    detached: true,
    // cmd's `start` reads the command line as it is written (browserCommand escapes it for cmd).
    windowsVerbatimArguments: command.command === "cmd",
  });
  opener.on("error", (err) =>
    process.stderr.write(
      `Wirescope: could not open a browser (${command.command}: ${err.message}); open the address above.\n`,
    ),
  );
  opener.unref();
}

/**
 * Browser mode in a child process (this process's tsx loader, main/serve.ts): its output shown as it comes, the
 * browser opened on the address it prints ("Open:  http://127.0.0.1:<port>/?token=..."), until it exits.
 */
function runBrowserMode(): void {
  const child = spawn(process.execPath, [...process.execArgv, path.join(ROOT, "main", "serve.ts")], {
    cwd: ROOT,
    stdio: ["inherit", "pipe", "inherit"],
  });
  let printed = "";
  let opened = false;
  child.stdout!.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (opened) return;
    printed += chunk.toString();
    // A whole line only: a chunk may end in the middle of the address.
    const address = /^Open:[ \t]+(\S+)\r?\n/m.exec(printed)?.[1];
    if (address === undefined) return;
    opened = true;
    openBrowser(address);
  });
  runUntilExit(child);
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
if (decision.action === "browser") {
  process.stderr.write(decision.message);
  npmRun("build:renderer");
  runBrowserMode();
}
if (decision.action === "launch") {
  npmRun("build:renderer");
  npmRun("build:desktop");
  runUntilExit(spawn(decision.executable, ["."], { cwd: ROOT, stdio: "inherit" }));
}
