/**
 * `npm start` where Electron's binary can't be had (ELECTRON_SKIP_BINARY_DOWNLOAD, as installs here and on CI):
 * its entry, `tsx main/start.ts`, says why on stderr, builds the workbench, runs browser mode and prints the
 * address and opens the browser on it; the page at that address is the workbench; Ctrl+C stops it with exit code 0.
 *
 * No real browser is opened (main/shell/system-browser.ts decides): BROWSER names a stand-in script that only
 * writes down the address it was given, and there is no DISPLAY.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO } from "./cli-process.ts";

/** Building the workbench (vite) comes first: it takes a minute or more on a busy machine. */
const ADDRESS_TIMEOUT_MS = 240_000;

let child: ChildProcess | null = null;
let folder: string | null = null;

afterEach(() => {
  // The process group this test started (tsx, start.ts, browser mode), if a failure left it running.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid, "SIGKILL");
  }
  child = null;
  if (folder !== null) fs.rmSync(folder, { recursive: true, force: true });
  folder = null;
});

/** Resolves with the first match of `pattern` in what `read()` returns; rejects when the process ends first. */
async function waitFor(pattern: RegExp, read: () => string, running: ChildProcess): Promise<RegExpExecArray> {
  const deadline = Date.now() + ADDRESS_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const m = pattern.exec(read());
    if (m) return m;
    if (running.exitCode !== null || running.signalCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${pattern} in npm start's output: ${read()}`);
}

describe("npm start without Electron's binary", () => {
  it(
    "says why on stderr, serves the workbench at the address it prints, opens the browser there, exits 0 at Ctrl+C",
    async () => {
      folder = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-start-"));
      const opened = path.join(folder, "opened.txt");
      const browser = path.join(folder, "browser.sh");
      fs.writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, { mode: 0o755 });
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ELECTRON_SKIP_BINARY_DOWNLOAD: "1",
        BROWSER: browser,
        WIRESCOPE_WORKSPACE: path.join(folder, "workspace"),
        WIRESCOPE_CONFIG_DIR: path.join(folder, "config"),
      };
      delete env.DISPLAY;
      delete env.WAYLAND_DISPLAY;
      delete env.WIRESCOPE_PORT;
      delete env.WIRESCOPE_TOKEN;
      const started = spawn(path.join(REPO, "node_modules", ".bin", "tsx"), ["main/start.ts"], {
        cwd: REPO,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // its own process group, so that afterEach can end all of it
      });
      child = started;
      let stdout = "";
      let stderr = "";
      started.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
      started.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => started.on("close", (code) => resolve(code)));

      const [, address] = await waitFor(
        /^Open:[ \t]+(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)\n/m,
        () => stdout,
        started,
      );
      expect(stderr).toMatch(
        /^Wirescope: no Electron binary here \(.*ELECTRON_SKIP_BINARY_DOWNLOAD is set.*\): the workbench runs in your browser instead\.$/m,
      );
      expect(stderr).toMatch(/^Wirescope: for the desktop app, run `npx install-electron`/m);

      await waitFor(/./, () => (fs.existsSync(opened) ? fs.readFileSync(opened, "utf8") : ""), started);
      expect(fs.readFileSync(opened, "utf8")).toBe(address);

      const page = await fetch(address!);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("<title>Wirescope</title>");
      expect(html).toContain('<div id="app"></div>');

      // Ctrl+C in a terminal goes to the foreground job; here it goes to npm start's process only, which passes it on.
      started.kill("SIGINT");
      const code = await Promise.race([
        exited,
        new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 15_000)),
      ]);
      expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(0);
    },
    ADDRESS_TIMEOUT_MS + 30_000,
  );
});
