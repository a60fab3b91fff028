/**
 * `wirescope spawn`, run as a real process with real programs: bc fed from a pipe, a command exiting 3, cat with
 * --json, a child that reads its stdin late, Ctrl+C and --idle on a child that never ends, a command that doesn't
 * exist, a command line without `--`. Checks what a user sees (the timeline with each chunk's fd, the capture) and
 * the exit code, which is the child's.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { capturesDir } from "../../main/workspace/layout.ts";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { capturePath, jsonLines, readCapture, runCli, startCli, useWorkspace } from "./cli-process.ts";

const ws = useWorkspace();

/** The bytes of connection 1 that went through the child's fd `fd`. */
function fdBytes(events: TimelineEvent[], fd: number): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.kind === "data" && e.conn === 1 && e.fd === fd ? [e.data] : [])));
}

describe("wirescope spawn", () => {
  it("feeds bc its piped stdin, closes it at the end of the input, prints the answer on fd 1 and exits 0", async () => {
    const r = await runCli(["spawn", "--", "bc", "-q"], { workspace: ws.path, input: "2+3\n" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0\.000000 #1 spawned bc -q \(pid \d+\)$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 -> 4 B \[fd 0\] {2}2\+3\\n$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 fd-closed stdin closed$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 <- 2 B \[fd 1\] {2}5\\n$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 ended exit code 0$/m);
    const events = await readCapture(capturePath(r.stderr));
    expect([fdBytes(events, 0).toString(), fdBytes(events, 1).toString()]).toEqual(["2+3\n", "5\n"]);
    // The newest capture is this one: `show last` prints it again.
    const shown = await runCli(["show", "last"], { workspace: ws.path });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^\d+\.\d{6} #1 <- 2 B \[fd 1\] {2}5\\n$/m);
  });

  it("with --protocol template:bc, the protocol drives bc: its questions on fd 0, its log lines, bc's exit", async () => {
    // Standard input (/dev/null here) is not read with a protocol: its end would close bc's stdin at once.
    const r = await runCli(["spawn", "--protocol", "template:bc", "--", "bc", "-q"], { workspace: ws.path });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 -> 4 B \[fd 0\] {2}2\+3\\n$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 info: 2\^64 = 18446744073709551616$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 info: sqrt\(144\) = 12\.0000000000$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 ended exit code 0$/m);
    const events = await readCapture(capturePath(r.stderr));
    expect(fdBytes(events, 0).toString()).toBe("2+3\n2^64\nscale=10; 1/3\nsqrt(144)\n");
  });

  it("exits with the command's exit code, its stderr shown as fd 2", async () => {
    const r = await runCli(["spawn", "--", "sh", "-c", "echo oops >&2; exit 3"], { workspace: ws.path });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 <- 5 B \[fd 2\] {2}oops\\n$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 exited exit code 3$/m);
  });

  it("with --json, data events carry their fd and the summary the process session", async () => {
    const r = await runCli(["spawn", "--json", "--send", "hi\\n", "--name", "echo", "--", "cat"], {
      workspace: ws.path,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    const data = lines.filter((l) => l.kind === "data");
    expect(data.map((l) => [l.dir, l.fd, Buffer.from(String(l.base64), "base64").toString()])).toEqual([
      ["out", 0, "hi\n"],
      ["in", 1, "hi\n"],
    ]);
    expect(lines.at(-1)).toMatchObject({
      kind: "summary",
      exitCode: 0,
      sessions: [{ kind: "process", name: "echo", state: "closed", bytesIn: 3, bytesOut: 3 }],
    });
  });

  it("holds piped input for a child that reads it late, and loses none of it", async () => {
    const input = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) & 0xff;
    const r = await runCli(["spawn", "--", "sh", "-c", "sleep 1; exec cat"], { workspace: ws.path, input });
    expect(r.code, r.stderr).toBe(0);
    const events = await readCapture(capturePath(r.stderr));
    expect(fdBytes(events, 0).equals(input)).toBe(true);
    expect(fdBytes(events, 1).equals(input)).toBe(true);
  });

  it("passes Ctrl+C on to the child and exits 130, as a shell reports a job killed by SIGINT", async () => {
    const cli = startCli(["spawn", "--", "sleep", "30"], { workspace: ws.path });
    await cli.waitForOutput(/#1 spawned sleep 30/);
    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toMatch(/#1 exited killed by SIGINT$/m);
    expect(fs.existsSync(capturePath(r.stderr))).toBe(true);
  });

  it("stops a child that outlives its input after --idle, and exits 128 + SIGTERM", async () => {
    const r = await runCli(["spawn", "--idle", "200", "--send", "x", "--", "sleep", "30"], { workspace: ws.path });
    expect(r.code, r.stderr).toBe(143);
    expect(r.stdout).toMatch(/#1 exited killed by SIGTERM$/m);
  });

  it("says why a command can't run, exits 1 and leaves no capture", async () => {
    const r = await runCli(["spawn", "--", "wirescope-no-such-program"], { workspace: ws.path });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^wirescope: Could not run wirescope-no-such-program: No executable found in/m);
    expect(fs.readdirSync(capturesDir(ws.path))).toEqual([]);
  });

  it("asks for the command after --", async () => {
    const r = await runCli(["spawn", "bc"], { workspace: ws.path });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("spawn: missing the command: put it after --, as in 'wirescope spawn -- bc -q'");
  });
});
