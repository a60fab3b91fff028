/**
 * Starts Wirescope in browser mode (main/serve.ts) as its own process, the way a user runs it, for one test or one
 * benchmark: a fresh workspace in a temporary folder, a port the OS picks on 127.0.0.1, a random 32-character token.
 *
 * It runs `node --import tsx main/serve.ts` rather than `npm run serve`, which would rebuild the renderer each time
 * (the e2e run builds it once: `npm run test:e2e`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The built workbench that browser mode serves. */
export const RENDERER_DIST = path.join(ROOT, "renderer", "dist");

/** How long the server gets to print that it is running. */
const START_TIMEOUT_MS = 30_000;
/** How long it gets to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;

/** A running browser-mode server. The caller owns it and calls `stop()`. */
export interface BrowserMode {
  /** The address to open: `http://127.0.0.1:PORT/?token=TOKEN`. */
  url: string;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  port: number;
  token: string;
  /** The server's process id: the engine runs in it (its memory is read from /proc/<pid>/status). */
  pid: number;
  /** The workspace folder (removed by `stop()`). */
  workspace: string;
  /** Its settings folder ($WIRESCOPE_CONFIG_DIR: settings.json, Wirescope's CA; removed by `stop()`). */
  config: string;
  /** Everything the server printed so far (stdout and stderr), for failure reports. */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes the workspace. */
  stop(): Promise<void>;
}

/** Throws, saying how to build it, when the workbench has not been built. */
export function assertRendererBuilt(): void {
  if (!fs.existsSync(path.join(RENDERER_DIST, "index.html"))) {
    throw new Error(
      `The workbench is not built (${RENDERER_DIST}/index.html is missing): run \`npm run test:e2e\`, ` +
        "which builds it, or `npm run build:renderer` before `npx playwright test`.",
    );
  }
}

/**
 * Starts browser mode on a new workspace; resolves once it printed "Wirescope is running". With `savedWorkspace`,
 * it starts as a user's Wirescope does: on the workspace saved in its settings file (no WIRESCOPE_WORKSPACE), whose
 * default is `Wirescope` in a temporary documents folder (XDG_DOCUMENTS_DIR), never the user's own.
 */
export async function startBrowserMode(options: { savedWorkspace?: string } = {}): Promise<BrowserMode> {
  assertRendererBuilt();
  // Its own settings folder: a test that changes the settings never touches the user's (~/.config/wirescope).
  const config = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-e2e-config-"));
  const documents = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-e2e-documents-"));
  let workspace: string;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.savedWorkspace === undefined) {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-e2e-"));
    env.WIRESCOPE_WORKSPACE = workspace;
  } else {
    workspace = path.join(documents, "Wirescope");
    delete env.WIRESCOPE_WORKSPACE;
    fs.writeFileSync(
      path.join(config, "settings.json"),
      JSON.stringify({ version: 1, workspace: options.savedWorkspace }),
    );
  }
  const token = randomBytes(24).toString("base64url");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "main", "serve.ts")], {
    cwd: ROOT,
    env: {
      ...env,
      WIRESCOPE_CONFIG_DIR: config,
      XDG_DOCUMENTS_DIR: documents,
      WIRESCOPE_PORT: "0",
      WIRESCOPE_TOKEN: token,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (output += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (output += s));

  const stop = async (): Promise<void> => {
    await terminate(child);
    fs.rmSync(workspace, { recursive: true, force: true });
    fs.rmSync(config, { recursive: true, force: true });
    fs.rmSync(documents, { recursive: true, force: true });
  };
  try {
    const url = await waitForOpenLine(child, () => output);
    const parsed = new URL(url);
    if (parsed.hostname !== "127.0.0.1") throw new Error(`browser mode is not on 127.0.0.1: ${url}`);
    if (parsed.searchParams.get("token") !== token) throw new Error(`browser mode ignored WIRESCOPE_TOKEN: ${url}`);
    return {
      url,
      origin: parsed.origin,
      port: Number(parsed.port),
      token,
      pid: child.pid!,
      workspace,
      config,
      output: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves with the "Open: <url>" address once the server printed "Wirescope is running". */
function waitForOpenLine(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`browser mode did not start within ${START_TIMEOUT_MS} ms. It printed:\n${output()}`)),
      START_TIMEOUT_MS,
    );
    const check = () => {
      const text = output();
      if (!text.includes("Wirescope is running")) return;
      const open = /^Open:\s+(\S+)\n/m.exec(text);
      if (open) done(open[1]!);
      else if (/^WebSocket:.*\n/m.test(text)) fail(new Error(`browser mode is not serving the workbench:\n${text}`));
    };
    const exited = (code: number | null, signal: string | null) =>
      fail(new Error(`browser mode exited (${signal ?? code}) before it was ready. It printed:\n${output()}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off("data", check);
      child.off("exit", exited);
    };
    const done = (url: string) => {
      cleanup();
      resolve(url);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    // Listeners run in order: the collector above has appended the chunk when `check` reads it.
    child.stdout!.on("data", check);
    child.once("exit", exited);
    check();
  });
}

/** SIGTERM (serve.ts closes the engine and exits), then SIGKILL if it is still there after a while. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
