/**
 * Real capture tools for the import tests: tshark capturing the test's own port on the loopback interface, and
 * nginx serving a folder on a free 127.0.0.1 port with a throwaway configuration. Every wait is bounded; every
 * process started here is stopped by the `stop()` it returns (by its pid).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { hasTshark, TSHARK } from "../e2e/tshark.ts";
import { freePort, pollConnect } from "./net.ts";

export const NGINX = "/usr/sbin/nginx";

/**
 * Why tshark can't capture here, or null when it can: it needs the binary and root (or dumpcap's capabilities,
 * which `tshark -D` shows by listing the loopback interface).
 */
export function tsharkUnavailable(): string | null {
  if (!hasTshark()) return "tshark is not installed (apt-get install tshark; .ci/run does this)";
  const list = spawnSync(TSHARK, ["-D"], { encoding: "utf8", timeout: 10_000 });
  if (!/\blo\b/.test(list.stdout ?? "")) {
    return `tshark can't list the loopback interface here (run the tests as root): ${(list.stderr ?? "").trim()}`;
  }
  return null;
}

/** Exits within `ms`, or is killed. */
async function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Numbers the capture files of one test process. */
let captures = 0;

export interface Tshark {
  file: string;
  /** Stops the capture (SIGINT, as Ctrl+C would) and waits for tshark to write the file and exit. */
  stop(): Promise<void>;
}

/**
 * Starts `tshark -i <iface> -f "tcp port <port>" -w <file> -F <format>` and resolves once it says "Capturing on".
 * `linkType` asks for one (`-y LINUX_SLL2` on `any`).
 */
export async function startTshark(options: {
  port: number;
  format: "pcap" | "pcapng";
  iface?: string;
  linkType?: string;
  dir: string;
}): Promise<Tshark> {
  const iface = options.iface ?? "lo";
  const file = path.join(options.dir, `${iface}-${options.port}-${++captures}.${options.format}`);
  // A 64 MiB kernel buffer: a 1 MiB value crosses loopback in a few ms, more than the default 2 MiB holds.
  const args = ["-i", iface, "-B", "64", "-f", `tcp port ${options.port}`, "-w", file, "-F", options.format];
  if (options.linkType) args.push("-y", options.linkType);
  const child = spawn(TSHARK, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tshark did not start capturing within 15 s: ${stderr}`));
    }, 15_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("Capturing on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited (${code}) before capturing: ${stderr}`));
    });
  });
  const tshark = {
    file,
    async stop() {
      child.kill("SIGINT");
      await exited(child, 10_000);
    },
  };
  try {
    await probeUntilCaptured(file, options.port);
  } catch (err) {
    await tshark.stop();
    throw err;
  }
  return tshark;
}

/**
 * tshark says "Capturing on" before its dumpcap really sees packets (here, up to seconds later): connects to `port`
 * (and closes) every 200 ms until the capture file grows, so the test's own traffic is captured from its first
 * packet. The probes are conversations of their own in the capture; tests pick theirs by client port.
 */
async function probeUntilCaptured(file: string, port: number): Promise<void> {
  const size = (): number => (fs.existsSync(file) ? fs.statSync(file).size : 0);
  const deadline = Date.now() + 15_000;
  // First the file's header (dumpcap writes it when it opens the interface), then a probe's packets after it.
  while (size() === 0) {
    if (Date.now() > deadline) throw new Error(`tshark wrote no capture file in 15 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const empty = size();
  while (size() <= empty) {
    if (Date.now() > deadline) throw new Error(`tshark captured nothing of probes to port ${port} in 15 s`);
    await new Promise<void>((resolve) => {
      const probe = net.connect({ host: "127.0.0.1", port }, () => probe.end());
      probe.on("error", () => resolve());
      probe.on("close", () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Polls until `ready(file)` says the capture file holds what the test needs (tshark's dumpcap writes packets a
 * little after they pass), at most `ms`. Resolves either way: the assertions that follow say what is missing.
 */
export async function captured(file: string, ready: (bytes: Uint8Array) => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (ready(fs.readFileSync(file))) return;
    } catch {
      // not written yet, or cut in the middle of a block
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Nginx {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground, one process (`daemon off; master_process off`: no worker dropping privileges, so no
 * `user` directive is needed as root or as anyone else), serving `root` on a free 127.0.0.1 port, with `directives`
 * added to its server block (`ssi on;`, say). Every path it writes (pid, logs, temp folders) is in `dir`.
 */
export async function startNginx(root: string, dir: string, directives: string[] = []): Promise<Nginx> {
  if (!fs.existsSync(NGINX)) throw new Error("These tests need nginx: apt-get install nginx (.ci/run does this).");
  const port = await freePort();
  const conf = path.join(dir, "nginx.conf");
  const temp = (name: string) => path.join(dir, name);
  fs.writeFileSync(
    conf,
    [
      "daemon off;",
      "master_process off;",
      "worker_processes 1;",
      `pid ${temp("nginx.pid")};`,
      `error_log ${temp("error.log")};`,
      "events { worker_connections 64; }",
      "http {",
      `  access_log ${temp("access.log")};`,
      `  client_body_temp_path ${temp("body")};`,
      `  proxy_temp_path ${temp("proxy")};`,
      `  fastcgi_temp_path ${temp("fastcgi")};`,
      `  uwsgi_temp_path ${temp("uwsgi")};`,
      `  scgi_temp_path ${temp("scgi")};`,
      "  default_type application/octet-stream;",
      `  server { listen 127.0.0.1:${port}; root ${root}; ${directives.join(" ")} }`,
      "}",
    ].join("\n"),
  );
  const child = spawn(NGINX, ["-e", temp("error.log"), "-p", dir, "-c", conf], { stdio: "ignore" });
  if (!(await pollConnect(port, { gaveUp: () => child.exitCode !== null }))) {
    child.kill("SIGKILL");
    const log = fs.existsSync(temp("error.log")) ? fs.readFileSync(temp("error.log"), "utf8") : "";
    throw new Error(`nginx did not start on 127.0.0.1:${port}: ${log}`);
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await exited(child, 5_000);
    },
  };
}

/** A temporary folder for one test file's captures and configs. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
