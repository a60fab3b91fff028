/**
 * Runs the real CLI (`node bin/wirescope.js ...`) as a child process on a fresh workspace, as a user's shell would:
 * to completion (`runCli`), or in the background until a line shows up and a signal stops it (`startCli`). Every
 * wait is bounded; `killAll` in afterEach ends whatever a failed test left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach } from "vitest";
import { CaptureReader } from "../../main/recording/capture-reader.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = path.join(REPO, "bin", "wirescope.js");

/** How long one CLI run may take before the test fails (ms). */
const RUN_TIMEOUT_MS = 30_000;

const running = new Set<ChildProcess>();

/** A new empty workspace folder; `removeWorkspace` deletes it. */
export function makeWorkspace(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-cli-"));
}

export function removeWorkspace(workspace: string): void {
  fs.rmSync(workspace, { recursive: true, force: true });
}

/** What a finished run printed and how it exited. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of a run. */
export interface RunOptions {
  workspace: string;
  /**
   * The settings folder (`$WIRESCOPE_CONFIG_DIR`: the CA's); default `<workspace>/.config`, a hidden folder the
   * workspace ignores and removeWorkspace removes: a run never touches the user's.
   */
  configDir?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Leave stdin an open pipe after `input` (a producer that hasn't finished). */
  keepStdinOpen?: boolean;
  timeoutMs?: number;
  /** More environment variables (NODE_EXTRA_CA_CERTS: an upstream CA the CLI's node:tls trusts). */
  env?: Record<string, string>;
}

function spawnCli(args: string[], options: RunOptions): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: {
      ...process.env,
      WIRESCOPE_WORKSPACE: options.workspace,
      WIRESCOPE_CONFIG_DIR: options.configDir ?? path.join(options.workspace, ".config"),
      ...options.env,
    },
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  if (options.input !== undefined) {
    if (options.keepStdinOpen) child.stdin!.write(options.input);
    else child.stdin!.end(options.input);
  }
  return child;
}

/** Runs `wirescope ...args` to its end. Rejects if it runs longer than the timeout (the child is killed). */
export function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`wirescope ${args.join(" ")} did not finish in time; stdout: ${stdout}; stderr: ${stderr}`));
    }, options.timeoutMs ?? RUN_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A CLI running in the background. */
export interface BackgroundCli {
  child: ChildProcess;
  /** Everything printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the first match of `pattern` on stdout; rejects after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` and resolves with the result once it exits; SIGKILL and reject if it doesn't in time. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<CliResult>;
}

/** Starts `wirescope ...args` and leaves it running. */
export function startCli(args: string[], options: RunOptions): BackgroundCli {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async waitForOutput(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = pattern.exec(stdout);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ${pattern} in the CLI's output; stdout: ${stdout}; stderr: ${stderr}`);
    },
    async stop(signal = "SIGINT", timeoutMs = 15_000) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const { code, signal: by } = await closed;
      clearTimeout(timer);
      if (by === "SIGKILL")
        throw new Error(`the CLI did not exit after ${signal}; stdout: ${stdout}; stderr: ${stderr}`);
      return { code, signal: by, stdout, stderr };
    },
  };
}

/** Kills every CLI a test left running (afterEach). */
export function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

/**
 * Called once at the top of a test file whose tests each run the CLI on a new empty workspace: `path` is the
 * running test's, made before it and removed after it, once whatever CLI it left running is killed (killAll).
 */
export function useWorkspace(): { readonly path: string } {
  let workspace: string | null = null;
  beforeEach(() => {
    workspace = makeWorkspace();
  });
  afterEach(() => {
    killAll();
    if (workspace !== null) removeWorkspace(workspace);
    workspace = null;
  });
  return {
    get path() {
      if (workspace === null) throw new Error("useWorkspace's workspace exists only while a test runs");
      return workspace;
    },
  };
}

/** The JSON lines of a --json run's stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The capture path a human run reported on stderr ("capture: <path> (N events)"). */
export function capturePath(stderr: string): string {
  const m = /^capture: (.+\.wscap) \(/m.exec(stderr);
  if (!m) throw new Error(`no capture reported; stderr: ${stderr}`);
  return m[1]!;
}

/** Every event of the capture file `file`, read back with the app's capture reader. */
export async function readCapture(file: string): Promise<TimelineEvent[]> {
  const reader = await CaptureReader.open(file);
  try {
    return await reader.read(0, reader.count);
  } finally {
    await reader.close();
  }
}
