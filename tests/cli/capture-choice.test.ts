/**
 * Which capture the CLI works on and how it refuses what it can't: `last` is the newest recorded traffic (never
 * the CLI's own decodes and imports, nor a listen that failed), a --conn the capture doesn't have and an -o in a
 * folder that isn't there are usage errors (exit 2) that say what there is and what to do, and so are a
 * --workspace that is a file and no command at all. Without --workspace or $WIRESCOPE_WORKSPACE, the workspace
 * is the one saved in Settings.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../main/engine/engine.ts";
import { capturesDir, exportsDir } from "../../main/workspace/layout.ts";
import { MAX_LISTED_CONNECTIONS } from "../../preload/limits.ts";
import { startRedis } from "../helpers/engine.ts";
import { sayAndGo } from "../helpers/net.ts";
import { BIN, capturePath, jsonLines, killAll, makeWorkspace, removeWorkspace, REPO, runCli } from "./cli-process.ts";

const SEND = "*2\\r\\n$4\\r\\nECHO\\r\\n$5\\r\\nhello\\r\\n";

let workspace: string;
let capture: string;

beforeAll(async () => {
  workspace = makeWorkspace();
  const redis = await startRedis();
  try {
    const r = await runCli(["connect", `127.0.0.1:${redis.port}`, "--send", SEND, "--idle", "300"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    capture = capturePath(r.stderr);
  } finally {
    await redis.stop();
  }
});
afterAll(() => removeWorkspace(workspace));
afterEach(() => killAll());

describe("'last'", () => {
  it("stays the recorded session after an import --decode and a listen that could not start", async () => {
    const pcapng = path.join(workspace, "again.pcapng");
    expect((await runCli(["export", capture, "-o", pcapng], { workspace })).code).toBe(0);
    const decoded = await runCli(["import", pcapng, "--decode", "template:resp"], { workspace });
    expect(decoded.code, decoded.stderr).toBe(0);

    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const listen = await runCli(["listen", `127.0.0.1:${port}`], { workspace });
      expect(listen.code).toBe(1);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }

    const exported = await runCli(["export", "last", "--json"], { workspace });
    expect(exported.code, exported.stderr).toBe(0);
    expect(jsonLines(exported.stdout)[0]).toMatchObject({ kind: "export", source: capture });

    const r = await runCli(["decode", "last", "--protocol", "template:resp"], { workspace });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1 info: .*hello/);
  });
});

describe("usage errors", () => {
  it("a --conn the capture doesn't have exits 2 and lists the connections it has", async () => {
    const exported = await runCli(["export", "last", "--conn", "7"], { workspace });
    expect(exported.code).toBe(2);
    expect(exported.stderr).toMatch(/export: .*\.wscap has connection\(s\) 1 \(no 7\)/);
    expect(exported.stderr).not.toMatch(/Session 's\d+'/);
    const decoded = await runCli(["decode", "last", "--conn", "9", "--protocol", "template:resp"], { workspace });
    expect(decoded.code).toBe(2);
    expect(decoded.stderr).toMatch(/decode: .*\.wscap has connection\(s\) 1 \(no 9\)/);
  });

  it("export -o into a folder that isn't there exits 2, says what to do and leaves no file behind", async () => {
    const exports = exportsDir(workspace);
    const before = fs.existsSync(exports) ? fs.readdirSync(exports) : [];
    const out = path.join(workspace, "no-such-folder", "x.pcapng");
    const r = await runCli(["export", capture, "-o", out], { workspace });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the folder ${path.dirname(out)} does not exist`);
    expect(r.stderr).toMatch(/mkdir -p/);
    expect(r.stderr).not.toMatch(/ENOENT/);
    expect(fs.existsSync(exports) ? fs.readdirSync(exports) : []).toEqual(before);
  });

  it("--workspace naming a file exits 2 and says it is a file", async () => {
    const file = path.join(workspace, "a-file.txt");
    fs.writeFileSync(file, "not a folder\n");
    const r = await runCli(["export", "last", "--workspace", file], { workspace });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file} is a file, not a folder`);
    expect(r.stderr).not.toMatch(/ENOTDIR/);
  });

  it("no command prints the usage on stderr, nothing on stdout, and exits 2", async () => {
    const r = await runCli([], { workspace });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: wirescope <command>/);
  });
});

describe("--conn in a capture of more connections than a session list shows", () => {
  it("takes one the list leaves out, for export and decode, and names them all when refusing one", async () => {
    const many = makeWorkspace();
    try {
      const engine = await Engine.open({ workspaceRoot: many });
      let file: string;
      try {
        const s = await engine.listen({ target: { port: 0 } });
        const port = Number(s.listeningOn!.split(":")[1]);
        const texts = Array.from({ length: MAX_LISTED_CONNECTIONS + 10 }, (_, i) => `client ${i}\n`);
        for (const text of texts) await sayAndGo(port, text); // one after another: client 0 is connection 1
        const bytes = texts.join("").length;
        const heard = async () => (await engine.listSessions())[0]!.bytesIn;
        for (let tries = 0; (await heard()) < bytes && tries < 600; tries++)
          await new Promise((r) => setTimeout(r, 50));
        expect(await heard(), "every client's bytes recorded").toBe(bytes);
        file = engine.captureFileOf(s.id);
      } finally {
        await engine.close();
      }
      const exported = await runCli(["export", file, "--conn", "1", "--json"], { workspace: many });
      expect(exported.code, exported.stderr).toBe(0);
      expect(jsonLines(exported.stdout)[0]).toMatchObject({ kind: "export", conn: 1 });
      const decoded = await runCli(["decode", file, "--conn", "1", "--protocol", "template:line"], { workspace: many });
      expect(decoded.code, decoded.stderr).toBe(0);
      expect(decoded.stdout).toContain("client 0");
      const wrong = await runCli(["export", file, "--conn", "999"], { workspace: many });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain(`has connection(s) 1-${MAX_LISTED_CONNECTIONS + 10} (no 999)`);
    } finally {
      removeWorkspace(many);
    }
  }, 60_000);
});

describe("the default workspace", () => {
  it("is the one chosen in Settings when neither --workspace nor $WIRESCOPE_WORKSPACE is given", async () => {
    const config = path.join(workspace, "config");
    const chosen = path.join(workspace, "chosen-in-settings");
    fs.mkdirSync(config);
    fs.writeFileSync(path.join(config, "settings.json"), JSON.stringify({ version: 1, workspace: chosen }));
    const { WIRESCOPE_WORKSPACE: _ignored, ...env } = process.env;
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [BIN, "export", "last"],
        { cwd: REPO, env: { ...env, WIRESCOPE_CONFIG_DIR: config }, timeout: 30_000 },
        (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no capture of recorded traffic in ${capturesDir(chosen)}`);
  });
});
