/**
 * A real client through each proxy: Debian's redis-benchmark (10 clients, SET and GET) against redis-server on
 * 127.0.0.1, directly and through
 *
 * - socat as a plain relay (the baseline the ratios are against; it forks a process per connection);
 * - a relay written by hand on node:net in one process (what one Node event loop does with no recording);
 * - `wirescope proxy`, raw (no protocol: every chunk of both legs recorded);
 * - `wirescope proxy --protocol template:resp-tap` (RESP decoded on both legs, every message logged and recorded).
 *
 * Each is measured one command per round trip and pipelined 16 deep (-P 16). Printed: requests per second (the
 * mean of SET's and GET's), the ratio to socat, the p50 latency redis-benchmark reports and what the proxy adds to
 * the direct path's, and the proxy's CPU per request (user + system, every thread and socat's forks, from /proc:
 * steadier than the rate on a busy machine). The wirescope proxies run as a user runs them, `node bin/wirescope.js proxy`
 * in a process of their own with their timeline printed to a file. Rounds alternate the order of the paths; medians.
 * What is missing (socat, redis-benchmark, redis-server) is said plainly, and what needs it is skipped.
 *
 * Reading the figures: socat serves each client in a forked process of its own, so on a machine busy with other
 * work its 10 processes get 10 shares of the CPUs where a Node proxy's one event loop gets one; the CPU per request
 * is then the fairer comparison, and the hand-written node:net relay shows what one event loop does at best.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startRedis, REDIS_SERVER } from "../helpers/engine.ts";
import { freePort, pollConnect } from "../helpers/net.ts";
import { cpuSeconds } from "./proc-cpu.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = 10;
/** Requests per test (SET, then GET) and mode: a few seconds each through socat on a 2-core machine. */
const REQUESTS = { single: 40_000, pipelined: 300_000 } as const;
const PIPELINE = 16;
const REDIS_BENCHMARK = "/usr/bin/redis-benchmark";
const SOCAT = "/usr/bin/socat";
const WIRESCOPE = path.join(import.meta.dirname, "../../bin/wirescope.js");
/** How long a proxy may take to start, or a redis-benchmark run to finish, before the bench gives up (ms). */
const LIMIT_MS = 180_000;
const GOALS = {
  raw: { single: 0.95, pipelined: 0.95 },
  tap: { single: 0.8, pipelined: 0.5 },
} as const;

type Mode = keyof typeof REQUESTS;

/** A path a client can take to redis-server: the port to give redis-benchmark, and the process to charge CPU to. */
interface Path {
  name: string;
  port: number;
  pid: number | null;
  stop(): Promise<void>;
}

/** One redis-benchmark run: requests/s (mean of SET and GET), p50 latency (ms, mean of both), proxy CPU per request. */
interface Run {
  rps: number;
  p50: number;
  cpuUsPerRequest: number | null;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

async function socatPath(upstream: number): Promise<Path> {
  const port = await freePort();
  const child = spawn(SOCAT, [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${upstream}`], {
    stdio: "ignore",
  });
  if (!(await pollConnect(port, { gaveUp: () => child.exitCode !== null }))) throw new Error("socat did not start");
  return { name: "socat (plain relay, baseline)", port, pid: child.pid!, stop: () => stopChild(child, "SIGTERM") };
}

/**
 * A relay written by hand on node:net, in a process of its own: each client's bytes written to its upstream
 * connection as they arrive, and back. What one Node event loop does with no recording: the floor under Wirescope's
 * own proxy, where socat forks a process per connection.
 */
const NODE_RELAY = `
const net = require("node:net");
const [listen, upstream] = process.argv.slice(1).map(Number);
net.createServer((client) => {
  const up = net.connect(upstream, "127.0.0.1");
  client.on("data", (d) => up.write(d));
  up.on("data", (d) => client.write(d));
  client.on("end", () => up.end());
  up.on("end", () => client.end());
  client.on("error", () => up.destroy());
  up.on("error", () => client.destroy());
}).listen(listen, "127.0.0.1");
`;

async function nodeRelayPath(upstream: number): Promise<Path> {
  const port = await freePort();
  const child = spawn(process.execPath, ["-e", NODE_RELAY, String(port), String(upstream)], { stdio: "ignore" });
  if (!(await pollConnect(port, { gaveUp: () => child.exitCode !== null }))) throw new Error("the relay did not start");
  return { name: "node:net relay by hand (1 process)", port, pid: child.pid!, stop: () => stopChild(child, "SIGTERM") };
}

/** `wirescope proxy 0 127.0.0.1:<upstream> [args]`, its timeline printed to a file; waits for "listening on". */
async function wirescopePath(name: string, upstream: number, workspace: string, args: string[]): Promise<Path> {
  const out = path.join(workspace, `${name.replace(/\W+/g, "-")}.out`);
  const fd = fs.openSync(out, "w");
  const child = spawn(
    process.execPath,
    [WIRESCOPE, "proxy", "0", `127.0.0.1:${upstream}`, "--workspace", workspace, ...args],
    // Its own settings folder: the bench never reads or writes the user's.
    { stdio: ["ignore", fd, "pipe"], env: { ...process.env, WIRESCOPE_CONFIG_DIR: path.join(workspace, "config") } },
  );
  fs.closeSync(fd);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + LIMIT_MS;
  for (;;) {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(out, "utf8"));
    if (m) return { name, port: Number(m[1]), pid: child.pid!, stop: () => stopChild(child, "SIGTERM") };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs redis-benchmark once against `port`; parses its CSV. */
function redisBenchmark(port: number, mode: Mode): Promise<{ rps: number; p50: number }> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-c", String(CLIENTS), "-n", String(REQUESTS[mode])];
  if (mode === "pipelined") args.push("-P", String(PIPELINE));
  args.push("-t", "set,get", "--csv");
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_BENCHMARK, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), LIMIT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
      const rows = stdout
        .split("\n")
        .filter((l) => /^"(SET|GET)"/.test(l))
        .map((l) => l.split(",").map((f) => Number(f.replaceAll('"', ""))));
      if (code !== 0 || rows.length !== 2) {
        return reject(new Error(`redis-benchmark failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
      }
      resolve({ rps: (rows[0]![1]! + rows[1]![1]!) / 2, p50: (rows[0]![4]! + rows[1]![4]!) / 2 });
    });
  });
}

async function measure(p: Path, mode: Mode): Promise<Run> {
  const before = p.pid !== null ? cpuSeconds(p.pid) : 0;
  const { rps, p50 } = await redisBenchmark(p.port, mode);
  await new Promise((r) => setTimeout(r, 200)); // socat reaps the forks that served the run's connections
  const cpu = p.pid !== null ? ((cpuSeconds(p.pid) - before) / (2 * REQUESTS[mode])) * 1e6 : null;
  return { rps, p50, cpuUsPerRequest: cpu };
}

function missing(): string[] {
  const needed: [string, string][] = [
    [REDIS_SERVER, "redis-server"],
    [REDIS_BENCHMARK, "redis-tools"],
    [SOCAT, "socat"],
  ];
  return needed.filter(([file]) => !fs.existsSync(file)).map(([file, pkg]) => `${file} (apt-get install ${pkg})`);
}

async function main(): Promise<void> {
  console.log(
    `\nProxies under a real client: redis-benchmark -c ${CLIENTS} -t set,get against redis-server on 127.0.0.1` +
      ` (${ROUNDS} rounds, medians)`,
  );
  const absent = missing();
  if (absent.length > 0) {
    console.log(`  skipped: needs ${absent.join(", ")}; .ci/run installs them`);
    return;
  }
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-proxy-"));
  const redis = await startRedis();
  const paths: Path[] = [];
  try {
    paths.push({ name: "direct to redis-server", port: redis.port, pid: null, stop: async () => {} });
    paths.push(await socatPath(redis.port));
    paths.push(await nodeRelayPath(redis.port));
    paths.push(await wirescopePath("wirescope proxy, raw", redis.port, workspace, []));
    paths.push(
      await wirescopePath("wirescope proxy, resp-tap both legs", redis.port, workspace, [
        "--protocol",
        "template:resp-tap",
      ]),
    );
    const modes: Mode[] = ["single", "pipelined"];
    const runs = new Map<string, Run[]>();
    for (const p of paths) for (const mode of modes) await measure(p, mode); // warm-up (JIT, the sandbox)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...paths] : [...paths].reverse();
      for (const p of order) {
        for (const mode of modes) {
          const key = `${p.name}/${mode}`;
          runs.set(key, [...(runs.get(key) ?? []), await measure(p, mode)]);
        }
      }
    }
    report(paths, modes, runs);
  } finally {
    for (const p of paths) await p.stop();
    await redis.stop();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

function report(paths: Path[], modes: Mode[], runs: Map<string, Run[]>): void {
  const at = (p: Path, mode: Mode) => {
    const r = runs.get(`${p.name}/${mode}`)!;
    const cpu = r.map((x) => x.cpuUsPerRequest).filter((x) => x !== null);
    return {
      rps: median(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.p50)),
      cpu: cpu.length > 0 ? median(cpu) : null,
    };
  };
  const [direct, socat, , raw, tap] = paths as [Path, Path, Path, Path, Path];
  for (const mode of modes) {
    const title = mode === "single" ? "one command per round trip" : `pipelined ${PIPELINE} deep`;
    console.log(`  ${title} (${REQUESTS[mode].toLocaleString("en-US")} requests per test):`);
    const base = at(socat, mode);
    const d = at(direct, mode);
    for (const p of paths) {
      const f = at(p, mode);
      const added = p === direct ? "" : `, +${((f.p50 - d.p50) * 1000).toFixed(0)} us`;
      const cpu = f.cpu !== null ? `   CPU ${f.cpu.toFixed(1)} us/request` : "";
      console.log(
        `    ${p.name.padEnd(38)} ${f.rps.toFixed(0).padStart(8)} req/s  ${(f.rps / base.rps).toFixed(2)}x socat` +
          `   p50 ${f.p50.toFixed(3)} ms${added}${cpu}`,
      );
    }
  }
  console.log("  Goals (vs socat, same run):");
  for (const [p, goals] of [
    [raw, GOALS.raw],
    [tap, GOALS.tap],
  ] as const) {
    for (const mode of modes) {
      const ratio = at(p, mode).rps / at(socat, mode).rps;
      const verdict = ratio >= goals[mode] ? "met" : "NOT met";
      const cpu = at(p, mode).cpu! / at(socat, mode).cpu!;
      console.log(
        `    ${p.name}, ${mode}: ${ratio.toFixed(2)}x, goal >= ${goals[mode]}x: ${verdict}` +
          ` (CPU per request ${cpu.toFixed(2)}x socat's)`,
      );
    }
  }
}

await main();
