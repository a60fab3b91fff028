/**
 * The desktop build (`npm run build:desktop`, scripts/build-desktop.ts), checked as the packaged app would use it:
 * the outputs exist; the preload is one CommonJS file that requires "electron" and nothing else and exposes the
 * contract; the main bundle loads no TypeScript source and imports esbuild only after its entry has run; and the
 * built engine, run by plain Node from a copy of out/ with no sources beside it (the layout inside the app's
 * archive), creates a protocol from a template, runs it through the sandbox on a real connection and records it
 * through the capture thread, both workers started from their prebuilt scripts.
 *
 * No Electron binary is needed: the built browser-mode entry (out/main/serve.js) runs the same chunks as main.js.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import type { Metafile } from "esbuild";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaptureReader } from "../../main/recording/capture-reader.ts";
import { commands, events, type WirescopeApi } from "../../preload/contract.ts";
import { connectWebSocketApi } from "../../preload/ws-client.ts";
import { buildDesktop, ROOT, type DesktopBuild } from "../../scripts/build-desktop.ts";
import { ok } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

/** The packages the main bundle may import at run time: package.json's dependencies, shipped in the app. */
const RUNTIME_PACKAGES = Object.keys(
  (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
    .dependencies,
);

let dir: string;
/** A stand-in for the packaged app's root: package.json, out/, node_modules; no main/, core/ or preload/. */
let app: string;
let built: DesktopBuild;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "wirescope-desktop-build-"));
  app = path.join(dir, "app");
  built = await buildDesktop(path.join(app, "out"));
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "wirescope", type: "module" }));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(app, "node_modules"), "dir");
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The modules an output imports without a bundle of its own: node built-ins and packages. */
function externalImports(metafile: Metafile, output: string, kinds?: readonly string[]): string[] {
  return (metafile.outputs[output]?.imports ?? [])
    .filter((i) => i.external && (kinds === undefined || kinds.includes(i.kind)))
    .map((i) => i.path);
}

/** The outputs a file loads statically (import statements), itself included, transitively. */
function staticClosure(metafile: Metafile, output: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of metafile.outputs[file]?.imports ?? []) {
      if (!i.external && i.kind === "import-statement") visit(i.path);
    }
  };
  visit(output);
  return [...seen];
}

describe("npm run build:desktop", () => {
  it("writes the main process, browser mode, the preload, the worker scripts and the templates", () => {
    for (const file of [built.main, built.serve, built.preload, ...built.workers, ...built.templates]) {
      expect(existsSync(file), file).toBe(true);
    }
    expect(path.relative(app, built.main)).toBe(path.join("out", "main", "main.js"));
    expect(path.relative(app, built.preload)).toBe(path.join("out", "preload", "electron-preload.cjs"));
    expect(built.workers.map((w) => path.relative(app, w))).toEqual([
      path.join("out", "main", "sandbox-worker.js"),
      path.join("out", "main", "capture-worker.js"),
    ]);
    expect(built.templates.map((t) => path.basename(t))).toContain("echo.ts");
    // package.json "main" and electron-builder.yml's extraMetadata.main both name this file.
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string };
    expect(pkg.main).toBe("out/main/main.js");
  });

  it("makes the preload one CommonJS script that requires only electron, and exposes the contract", () => {
    const code = readFileSync(built.preload, "utf8");
    const required: string[] = [];
    const exposed = new Map<string, unknown>();
    const fakeElectron = {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
      ipcRenderer: { invoke: async () => ({ ok: true, value: [] }), on: () => {}, removeListener: () => {} },
    };
    const module = { exports: {} };
    // Run as Electron runs a sandboxed preload: a CommonJS function scope with a small `require`.
    const run = vm.runInNewContext(`(function (require, module, exports, process) {\n${code}\n})`, {
      console,
    }) as (require: (id: string) => unknown, module: unknown, exports: unknown, process: unknown) => void;
    run(
      (id) => {
        required.push(id);
        if (id !== "electron") throw new Error(`the preload required ${id}`);
        return fakeElectron;
      },
      module,
      module.exports,
      { type: "renderer" },
    );
    expect(required).toEqual(["electron"]);
    const api = exposed.get("wirescope") as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual([...Object.keys(commands), ...Object.keys(events)].sort());
    expect(typeof api.listSessions).toBe("function");
  });

  it("bundles every source: the main bundle imports only Node, electron and the app's runtime packages", () => {
    const { main } = built.metafiles;
    const outputs = Object.keys(main.outputs).filter((o) => o.endsWith(".js"));
    expect(outputs.length).toBeGreaterThan(1);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    for (const output of outputs) {
      for (const imported of externalImports(main, output)) {
        const allowed = builtins.has(imported) || imported === "electron" || RUNTIME_PACKAGES.includes(imported);
        expect(allowed, `${output} imports ${imported}`).toBe(true);
        expect(imported.endsWith(".ts"), `${output} imports ${imported}`).toBe(false);
      }
    }
    expect(Object.keys(main.inputs).every((input) => !input.startsWith("node_modules/"))).toBe(true);
  });

  it("loads esbuild only after main.js has pointed it at its unpacked binary (import order in the bundle)", () => {
    const { main } = built.metafiles;
    const entry = Object.keys(main.outputs).find((o) => o.endsWith("/main.js"));
    if (entry === undefined) throw new Error("no main.js in the build's outputs");
    const loadedFirst = staticClosure(main, entry).flatMap((o) => externalImports(main, o, ["import-statement"]));
    expect(loadedFirst).not.toContain("esbuild");
    expect(loadedFirst).not.toContain("electron");
    const dynamic = (main.outputs[entry]?.imports ?? []).filter((i) => i.kind === "dynamic-import");
    expect(dynamic).toHaveLength(1);
  });
});

describe("the built engine, from a copy of out/ with no sources beside it", () => {
  let child: ChildProcess | null = null;
  let api: (WirescopeApi & { close(): void }) | null = null;
  let peer: net.Socket | null = null;

  afterAll(async () => {
    peer?.destroy();
    api?.close();
    if (child !== null && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("creates a protocol from a template, runs it in the sandbox on a real connection, and records it", async () => {
    const workspace = path.join(dir, "workspace");
    const token = randomBytes(24).toString("base64url");
    child = spawn(process.execPath, [built.serve], {
      cwd: app,
      env: {
        ...process.env,
        WIRESCOPE_WORKSPACE: workspace,
        WIRESCOPE_CONFIG_DIR: path.join(dir, "config"),
        WIRESCOPE_PORT: "0",
        WIRESCOPE_TOKEN: token,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (output += s));
    await waitFor(() => /WebSocket: +\S+/.test(output) || child!.exitCode !== null, "the built browser mode to start");
    const wsUrl = /WebSocket: +(\S+)/.exec(output)?.[1];
    if (wsUrl === undefined) throw new Error(`out/main/serve.js did not start:\n${output}`);
    expect(output).toContain(`Workspace:  ${workspace}`);

    api = await connectWebSocketApi(wsUrl, { WebSocket: WebSocket as never });
    const templates = ok(await api.listTemplates({}));
    expect(templates.map((t) => t.id)).toContain("echo");
    // The template is read from out/main/templates/ and compiled by esbuild; its class runs in a worker started
    // from out/main/sandbox-worker.js.
    const file = ok(await api.createProtocol({ path: "shout.ts", template: "echo" }));
    expect(file.diagnostics).toEqual([]);
    expect(readFileSync(path.join(workspace, "shout.ts"), "utf8")).toContain('from "wirescope"');
    const session = ok(
      await api.listen({ target: { port: 0, interface: "127.0.0.1" }, protocol: "shout.ts", name: "built" }),
    );
    const port = Number(session.listeningOn?.split(":").pop());
    expect(port).toBeGreaterThan(0);

    const socket = net.connect({ host: "127.0.0.1", port });
    peer = socket;
    let echoed = "";
    socket.setEncoding("utf8").on("data", (s: string) => (echoed += s));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.write("hello from a packaged layout\n");
    await waitFor(() => echoed.includes("hello from a packaged layout"), "the sandboxed echo protocol to answer");
    const sessions = ok(await api.listSessions({}));
    expect(sessions[0]?.connections[0]?.protocol).toMatchObject({ file: "shout.ts", state: "running" });

    // Every byte is in the session's capture, written by the capture thread started from out/main/capture-worker.js.
    ok(await api.removeSession({ session: session.id }));
    const captures = path.join(workspace, "captures");
    const [capture, ...others] = readdirSync(captures).filter((f) => f.endsWith(".wscap"));
    expect(capture, "one capture file").toBeDefined();
    expect(others).toEqual([]);
    const reader = await CaptureReader.open(path.join(captures, capture!));
    try {
      expect(reader.lostBytes).toBe(0);
      const recorded = { in: "", out: "" };
      for (const e of await reader.read(0, reader.count)) {
        if (e.kind === "data") recorded[e.dir] += Buffer.from(e.data).toString("utf8");
      }
      expect(recorded).toEqual({ in: "hello from a packaged layout\n", out: "hello from a packaged layout\n" });
    } finally {
      await reader.close();
    }
    expect(output).not.toMatch(/error|failed/i);
  });
});
