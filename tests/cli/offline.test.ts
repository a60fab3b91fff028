/**
 * The CLI's offline commands on real files: a session recorded against redis-server by `wirescope connect`, then
 * `export` (read back by tshark byte for byte), `import` of that pcapng (conversations, --open, --decode), and
 * `decode` of the .wscap with re-split runs; bad files exit 3, missing ones 2. And `npx wirescope` from this
 * checkout with the registry out of reach.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedis } from "../helpers/engine.ts";
import { capturePath, jsonLines, killAll, makeWorkspace, removeWorkspace, REPO, runCli } from "./cli-process.ts";

const run = promisify(execFile);
const TSHARK = "/usr/bin/tshark";
const SENT = ["*1\r\n$4\r\nPING\r\n", "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n"];
const ANSWER = "+PONG\r\n$5\r\nhello\r\n";

let workspace: string;
let capture: string;

/** `s` as the CLI's --send takes it. */
function escaped(s: string): string {
  return s.replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

beforeAll(async () => {
  workspace = makeWorkspace();
  const redis = await startRedis();
  try {
    const sends = SENT.flatMap((s) => ["--send", escaped(s)]);
    const r = await runCli(["connect", `127.0.0.1:${redis.port}`, ...sends, "--idle", "300"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    capture = capturePath(r.stderr);
  } finally {
    await redis.stop();
  }
});
afterAll(() => removeWorkspace(workspace));
afterEach(() => killAll());

describe("wirescope export", () => {
  it("writes the recorded capture as pcapng that tshark follows back to the exact bytes", async () => {
    if (!fs.existsSync(TSHARK)) throw new Error("This test needs tshark: apt-get install tshark (.ci/run does this).");
    const out = path.join(workspace, "redis.pcapng");
    const r = await runCli(["export", path.basename(capture), "-o", out], { workspace });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out.replace(/[.]/g, "\\.")}: \\d+ packets, \\d+ bytes`, "m"));
    const { stdout } = await run(TSHARK, ["-r", out, "-q", "-z", "follow,tcp,raw,0"]);
    const body = stdout.split("=".repeat(67))[1]!;
    const toServer = [...body.matchAll(/^([0-9a-f]+)$/gm)].map((m) => Buffer.from(m[1]!, "hex").toString());
    const toClient = [...body.matchAll(/^\t([0-9a-f]+)$/gm)].map((m) => Buffer.from(m[1]!, "hex").toString());
    expect(toServer.join("")).toBe(SENT.join(""));
    expect(toClient.join("")).toBe(ANSWER);
  });

  it("says 'last' is the newest capture, and --json prints the export as one object", async () => {
    const r = await runCli(["export", "last", "--json"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    const [exported, summary] = jsonLines(r.stdout);
    expect(exported).toMatchObject({ kind: "export", source: capture });
    expect(fs.existsSync(String(exported!.path))).toBe(true);
    expect(summary).toMatchObject({ kind: "summary", exitCode: 0 });
  });

  it("exits 3 for a file that is not a capture and 2 for one that isn't there", async () => {
    const bad = path.join(workspace, "bad.wscap");
    fs.writeFileSync(bad, Buffer.from("\x89WSCAP\r\n\x02\x00garbage", "latin1"));
    const r = await runCli(["export", bad], { workspace });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${bad} is not a Wirescope capture file`);
    const missing = await runCli(["export", path.join(workspace, "nope.wscap")], { workspace });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no file '.*nope\.wscap'/);
  });
});

describe("wirescope import", () => {
  let pcapng: string;
  beforeAll(async () => {
    pcapng = path.join(workspace, "for-import.pcapng");
    const r = await runCli(["export", capture, "-o", pcapng], { workspace });
    expect(r.code, r.stderr).toBe(0);
  });

  it("lists the conversations, and --open prints one's timeline", async () => {
    const r = await runCli(["import", pcapng, "--open", "1"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^for-import\.pcapng: pcapng, \d+ packets, 1 TCP conversation/m);
    expect(r.stdout).toMatch(/^ +1 {2}127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ .* complete$/m);
    expect(r.stdout).toMatch(/#1 -> 14 B {2}\*1\\r\\n\$4\\r\\nPING\\r\\n/);
  });

  it("--decode runs a protocol over the conversation", async () => {
    const r = await runCli(["import", pcapng, "--decode", "template:resp"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 info: .*PONG/);
    expect(r.stdout).toMatch(/#1 info: .*hello/);
  });

  it("exits 2 for a conversation that isn't there and 3 for a file that isn't a capture", async () => {
    const r = await runCli(["import", pcapng, "--open", "7"], { workspace });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has 1 TCP conversation\(s\), not 7/);
    const junk = path.join(workspace, "junk.pcap");
    fs.writeFileSync(junk, Buffer.from("this is not a capture at all"));
    const bad = await runCli(["import", junk], { workspace });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/not a capture file/);
  });
});

describe("wirescope decode", () => {
  it("decodes a .wscap with a template, and re-split runs agree", async () => {
    const r = await runCli(["decode", capture, "--protocol", "template:resp", "--resplit", "5:42"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 info: .*PONG/);
    expect(r.stdout).toMatch(/^re-split: 5 runs, seed 42: every run decoded the same$/m);
  });

  it("needs --protocol (exit 2)", async () => {
    const r = await runCli(["decode", capture], { workspace });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--protocol is required/);
  });
});

describe("wirescope show", () => {
  it("prints a capture's timeline as the command that recorded it did, in lines and in JSON", async () => {
    const redis = await startRedis();
    let recorded: Record<string, unknown>[];
    try {
      const sends = SENT.flatMap((s) => ["--send", escaped(s)]);
      const r = await runCli(["connect", `127.0.0.1:${redis.port}`, ...sends, "--idle", "300", "--json"], {
        workspace,
      });
      expect(r.code, r.stderr).toBe(0);
      recorded = jsonLines(r.stdout).filter((e) => e.kind !== "summary");
    } finally {
      await redis.stop();
    }
    const shown = await runCli(["show", "last", "--json"], { workspace });
    expect(shown.code, shown.stderr).toBe(0);
    const events = jsonLines(shown.stdout).filter((e) => e.kind !== "summary");
    // The same events, numbered and timed alike, the session's close (once) included.
    expect(events).toEqual(recorded);
    expect(events.filter((e) => e.event === "closed")).toHaveLength(1);
    const bytes = (dir: string) =>
      events
        .filter((e) => e.kind === "data" && e.dir === dir)
        .map((e) => Buffer.from(String(e.base64), "base64").toString())
        .join("");
    expect(bytes("out")).toBe(SENT.join(""));
    expect(bytes("in")).toBe(ANSWER);

    const human = await runCli(["show", "last", "--hex"], { workspace });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^\d+\.\d{6} #1 -> 14 B {2}\*1\\r\\n\$4\\r\\nPING\\r\\n$/m);
    expect(human.stdout).toMatch(/^\d+\.\d{6} #1 <- \d+ B {2}\+PONG/m);
    expect(human.stdout).toMatch(/^ {4}00000000 {2}2a 31 0d 0a 24 34 0d 0a {2}50 49 4e 47 0d 0a/m);
    expect(human.stdout).toMatch(/#1 lost ConnectionDone/);
  });

  it("shows one connection with --conn, and says which there are when it isn't one", async () => {
    const one = await runCli(["show", capture, "--conn", "1"], { workspace });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).not.toMatch(/ -- /);
    expect(one.stdout).toMatch(/#1 connected/);
    const none = await runCli(["show", capture, "--conn", "2"], { workspace });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/has connection\(s\) 1 \(no 2\)/);
    const missing = await runCli(["show", path.join(workspace, "nope.wscap")], { workspace });
    expect(missing.code).toBe(2);
  });

  it("prints only the events a --filter matches, and points at a filter's mistake", async () => {
    const all = jsonLines((await runCli(["show", capture, "--json"], { workspace })).stdout);
    const shown = await runCli(["show", capture, "--json", "--filter", 'in && "hello" || connected'], { workspace });
    expect(shown.code, shown.stderr).toBe(0);
    const events = jsonLines(shown.stdout).filter((e) => e.kind !== "summary");
    const connected = all.find((e) => e.event === "connected")!;
    const hello = all.find((e) => e.dir === "in" && Buffer.from(String(e.base64), "base64").includes("hello"))!;
    // The same lines as without the filter, times counted from the capture's first event alike.
    expect(events).toEqual([connected, hello]);

    const human = await runCli(["show", capture, "--filter", "out size >= 14B"], { workspace });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^\d+\.\d{6} #1 -> 14 B {2}\*1\\r\\n\$4\\r\\nPING\\r\\n$/),
      expect.stringMatching(/^\d+\.\d{6} #1 -> 25 B {2}\*2\\r\\n\$4\\r\\nECHO/),
    ]);

    const wrong = await runCli(["show", capture, "--filter", "conn == "], { workspace });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("show: the filter is wrong at column 9: expected a value after '=='");
    expect(wrong.stderr).toContain("  conn == \n          ^");
  });
});

describe("npx wirescope", () => {
  it("runs this checkout's CLI with the registry out of reach", async () => {
    const { stdout } = await run("npx", ["wirescope", "--help"], {
      cwd: REPO,
      env: { ...process.env, npm_config_offline: "true", npm_config_yes: "true" },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^Usage: wirescope <command>/);
    expect(stdout).toMatch(/^ {2}130 /m);
  });
});
