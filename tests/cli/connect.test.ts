/**
 * `wirescope connect`, run as a real process against real peers on 127.0.0.1: the core's Echo and Debian's
 * redis-server. Checks what a user sees (the timeline on stdout, JSON lines, where the capture is) and how it
 * exits: after the sends and a quiet --idle, at Ctrl+C or SIGTERM, when refused, on usage errors, on a protocol
 * that doesn't compile.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Factory } from "../../core/index.ts";
import { Echo } from "../../core/protocols/wire.ts";
import type { ListeningPort } from "../../core/tcp.ts";
import { capturesDir } from "../../main/workspace/layout.ts";
import { useRedisForFile } from "../helpers/engine.ts";
import { freePort, listenLocal } from "../helpers/net.ts";
import { capturePath, jsonLines, readCapture, runCli, startCli, useWorkspace } from "./cli-process.ts";

const redis = useRedisForFile();
const ws = useWorkspace();
let echo: { port: ListeningPort; portNumber: number };

beforeAll(async () => {
  echo = await listenLocal(Factory.forProtocol(Echo));
});
afterAll(async () => {
  await echo.port.stopListening();
});

describe("wirescope connect", () => {
  it("sends each --send, prints both directions with escaped previews, closes after --idle and exits 0", async () => {
    const r = await runCli(
      ["connect", `127.0.0.1:${echo.portNumber}`, "--send", "hello\\r\\n", "--send-hex", "de ad", "--idle", "300"],
      { workspace: ws.path },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 connected 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 -> 7 B {2}hello\\r\\n$/m);
    expect(r.stdout).toMatch(/^\d+\.\d{6} #1 -> 2 B {2}\\xde\\xad$/m);
    // Echo may answer in one chunk or two: what came back is what was sent.
    const back = [...r.stdout.matchAll(/#1 <- \d+ B {2}(.*)$/gm)].map((m) => m[1]).join("");
    expect(back).toBe("hello\\r\\n\\xde\\xad");
    expect(r.stdout).toMatch(/#1 lost ConnectionDone/);
    const capture = capturePath(r.stderr);
    expect(path.dirname(capture)).toBe(capturesDir(ws.path));
    expect(fs.statSync(capture).size).toBeGreaterThan(0);
  });

  it("talks to redis-server with --json: one object per event with base64 bytes, and a summary", async () => {
    const r = await runCli(["connect", `127.0.0.1:${redis.port}`, "--send", "*1\\r\\n$4\\r\\nPING\\r\\n", "--json"], {
      workspace: ws.path,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    const data = lines.filter((l) => l.kind === "data");
    expect(data.map((l) => [l.dir, Buffer.from(String(l.base64), "base64").toString()])).toEqual([
      ["out", "*1\r\n$4\r\nPING\r\n"],
      ["in", "+PONG\r\n"],
    ]);
    expect(data[0]).toMatchObject({ conn: 1, size: 14 });
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ kind: "summary", exitCode: 0 });
    const [session] = summary.sessions as { capture: string; bytesOut: number; bytesIn: number }[];
    expect(session).toMatchObject({ bytesOut: 14, bytesIn: 7 });
    expect(fs.existsSync(session!.capture)).toBe(true);
  });

  it("sends piped stdin when no --send is given, with --hex dumps", async () => {
    const r = await runCli(["connect", `127.0.0.1:${redis.port}`, "--idle", "300", "--hex"], {
      workspace: ws.path,
      input: "PING\r\nECHO wire\r\n",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("PING\\r\\nECHO wire\\r\\n");
    expect(r.stdout).toMatch(/^ {4}00000000 {2}2b 50 4f 4e 47 0d 0a .*\+PONG\.\./m);
  });

  it("exits when the peer closes (QUIT), without waiting for --idle", async () => {
    const r = await runCli(["connect", `127.0.0.1:${redis.port}`, "--send", "QUIT\\r\\n", "--idle", "60000"], {
      workspace: ws.path,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 <- 5 B {2}\+OK\\r\\n/);
    expect(r.stdout).toMatch(/#1 lost ConnectionDone/);
  });

  it("on Ctrl+C while stdin is still open, closes cleanly, keeps the capture and exits 130", async () => {
    const cli = startCli(["connect", `127.0.0.1:${echo.portNumber}`], {
      workspace: ws.path,
      input: "partial ",
      keepStdinOpen: true,
    });
    await cli.waitForOutput(/#1 <- 8 B {2}partial $/m);
    const r = await cli.stop("SIGINT");
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/#1 lost ConnectionDone/);
    expect(fs.existsSync(capturePath(r.stderr))).toBe(true);
  });

  it("on SIGTERM while stdin is still open, closes, flushes the capture, says where on stderr and exits 130", async () => {
    const cli = startCli(["connect", `127.0.0.1:${echo.portNumber}`], {
      workspace: ws.path,
      input: "half a line",
      keepStdinOpen: true,
    });
    await cli.waitForOutput(/#1 <- 11 B {2}half a line$/m);
    const r = await cli.stop("SIGTERM");
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toMatch(/#1 lost ConnectionDone/);
    expect(r.stdout).not.toMatch(/^capture: /m);
    const capture = capturePath(r.stderr);
    expect(path.dirname(capture)).toBe(path.join(ws.path, "captures"));
    const events = await readCapture(capture);
    expect(events.some((e) => e.kind === "data" && Buffer.from(e.data).toString() === "half a line")).toBe(true);
    expect(events.some((e) => e.kind === "lifecycle" && e.event === "closed")).toBe(true);
  });

  it("exits 1 with the reason when the connection is refused, and still shows the attempt", async () => {
    const port = await freePort();
    const r = await runCli(["connect", `127.0.0.1:${port}`, "--send", "x"], { workspace: ws.path });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wirescope: Could not connect to .*ConnectionRefusedError/);
    expect(r.stdout).toMatch(/#1 failed ConnectionRefusedError/);
  });

  it.each([
    [["connect"], /connect: missing <endpoint>/],
    [["connect", "127.0.0.1:1", "--bogus"], /connect: unknown option --bogus/],
    [["connect", "127.0.0.1:1", "--send", "a\\q"], /--send 'a\\q': unknown escape '\\q' at position 2/],
    [["connect", "127.0.0.1:1", "--idle", "soon"], /--idle takes a whole number/],
    [["connect", "tcp:host=127.0.0.1:port=99999"], /port/],
    [["conect", "127.0.0.1:1"], /'conect' is not a wirescope command/],
  ])("exits 2 on a usage error: %j", async (args, message) => {
    const r = await runCli(args, { workspace: ws.path });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/wirescope (\w+ )?--help/);
  });

  it("exits 3 and prints file:line:col when the protocol doesn't compile", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-proto-"));
    const file = path.join(dir, "broken.ts");
    fs.writeFileSync(
      file,
      'import { Protocol } from "wirescope";\nexport default class Broken extends Protocol {\n  x = ;\n}\n',
    );
    try {
      const r = await runCli(["connect", `127.0.0.1:${echo.portNumber}`, "--protocol", file, "--send", "x"], {
        workspace: ws.path,
      });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`wirescope: ${file} does not compile`);
      expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: error: `, "m"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs a template protocol on the connection: decoded replies are on the timeline", async () => {
    const r = await runCli(
      ["connect", `127.0.0.1:${redis.port}`, "--protocol", "template:resp", "--send", "*1\\r\\n$4\\r\\nPING\\r\\n"],
      { workspace: ws.path },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 info: .*PONG/);
  });
});
