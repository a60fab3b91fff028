/**
 * Settings through the engine's contract, over the real WebSocket adapter: where the workspace is, and moving it
 * live. A listener runs a protocol from the first workspace while the user switches to a second one; it
 * keeps its code and its capture, the protocol list is the new folder's, and the choice is remembered for the next
 * start. A folder that cannot be a workspace is refused with a reason, and nothing changes.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Engine } from "../../main/engine/engine.ts";
import { SettingsStore } from "../../main/settings/settings.ts";
import { openStartWorkspace } from "../../main/settings/start-workspace.ts";
import { capturesDir, readmeFile } from "../../main/workspace/layout.ts";
import { ok, startEngine, type EngineUnderTest } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";

let dir: string;
let settings: SettingsStore;
let t: EngineUnderTest;
const sockets: net.Socket[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-settings-"));
  settings = await SettingsStore.open({ dir: path.join(dir, "config"), defaultWorkspace: path.join(dir, "default") });
  t = await startEngine({ settings });
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Connects to a listener and collects what comes back. */
async function client(port: number): Promise<{ socket: net.Socket; received: () => string }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  let received = "";
  socket.setEncoding("utf8").on("data", (s: string) => (received += s));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, received: () => received };
}

const UPPERCASE_ECHO = `import { Protocol, type Bytes } from "wirescope";
export default class Shout extends Protocol {
  override dataReceived(data: Bytes): void {
    this.transport.write(Buffer.from(Buffer.from(data).toString().toUpperCase()));
  }
}
`;

describe("getSettings", () => {
  it("says which folder is the workspace and which is the default", async () => {
    expect(ok(await t.api.getSettings({}))).toEqual({
      workspace: t.workspace,
      defaultWorkspace: path.join(dir, "default"),
    });
  });
});

describe("starting on a saved workspace that went bad", () => {
  it("starts on the default one, says why, and Settings can move it again", async () => {
    const config = path.join(dir, "bad-config");
    const afile = path.join(dir, "afile");
    fs.writeFileSync(afile, "the saved workspace is now a file");
    fs.mkdirSync(config);
    fs.writeFileSync(path.join(config, "settings.json"), JSON.stringify({ version: 1, workspace: afile }));
    const store = await SettingsStore.open({ dir: config, defaultWorkspace: path.join(dir, "fallback") });
    const start = await openStartWorkspace(store, {});
    expect(start.problem).toMatch(/afile, cannot be used: .* is a file, not a folder/);
    const engine = await Engine.open({ workspaceRoot: start.root, settings: store, startProblem: start.problem });
    try {
      expect(await engine.getSettings()).toEqual({
        workspace: path.join(dir, "fallback"),
        defaultWorkspace: path.join(dir, "fallback"),
        problem: start.problem,
      });
      const next = path.join(dir, "chosen-again");
      const chosen = await engine.setWorkspace({ path: next });
      expect(chosen.workspace).toBe(next);
      expect(chosen.problem).toBeUndefined(); // chosen again: nothing to explain any more
      expect((await SettingsStore.open({ dir: config, defaultWorkspace: "/unused" })).workspace).toBe(next);
    } finally {
      await engine.close();
    }
  });
});

describe("setWorkspace", () => {
  it("moves to a new folder live: its protocols listed, running sessions keep their code and capture", async () => {
    ok(await t.api.createProtocol({ path: "echo.ts", template: "echo" }));
    const listener = ok(
      await t.api.listen({ target: { port: 0, interface: "127.0.0.1" }, protocol: "echo.ts", name: "old" }),
    );
    const port = Number(listener.listeningOn?.split(":").pop());
    const before = await client(port);
    before.socket.write("before ");
    await waitFor(() => before.received() === "before ", "the echo before the switch");

    const next = path.join(dir, "elsewhere", "protocols");
    fs.mkdirSync(next, { recursive: true });
    fs.writeFileSync(path.join(next, "echo.ts"), UPPERCASE_ECHO);
    fs.writeFileSync(path.join(next, "other.ts"), UPPERCASE_ECHO);
    const notices = t.received.onProtocolsChanged.length;

    const moved = ok(await t.api.setWorkspace({ path: next }));
    expect(moved).toEqual({ workspace: next, defaultWorkspace: path.join(dir, "default") });
    expect(ok(await t.api.getSettings({})).workspace).toBe(next);
    expect(ok(await t.api.listProtocols({})).map((p) => p.path)).toEqual(["echo.ts", "other.ts"]);
    await waitFor(() => t.received.onProtocolsChanged.length > notices, "the protocol list to be sent again");
    expect(t.received.onProtocolsChanged.at(-1)?.map((p) => p.path)).toEqual(["echo.ts", "other.ts"]);
    expect(fs.existsSync(readmeFile(next))).toBe(true);

    // The old session runs the old workspace's echo.ts; saving the new workspace's echo.ts does not touch it.
    const saved = ok(await t.api.saveProtocol({ path: "echo.ts", content: UPPERCASE_ECHO }));
    expect(saved.reloaded).toBe(0);
    before.socket.write("after");
    await waitFor(() => before.received() === "before after", "the old session to keep echoing as it did");
    const oldCaptures = fs.readdirSync(capturesDir(t.workspace));
    expect(oldCaptures.some((f) => f.endsWith("-s1.wscap"))).toBe(true);

    // A new session runs the new workspace's file, and records into the new workspace's captures/.
    const fresh = ok(await t.api.listen({ target: { port: 0, interface: "127.0.0.1" }, protocol: "echo.ts" }));
    const shout = await client(Number(fresh.listeningOn?.split(":").pop()));
    shout.socket.write("hello");
    await waitFor(() => shout.received() === "HELLO", "the new workspace's protocol to answer");
    expect(fs.readdirSync(capturesDir(next)).some((f) => f.endsWith(`-${fresh.id}.wscap`))).toBe(true);

    // Edits made in another editor in the new folder are seen (the watcher moved with it).
    const changes = t.received.onProtocolsChanged.length;
    fs.writeFileSync(path.join(next, "third.ts"), UPPERCASE_ECHO);
    await waitFor(
      () => t.received.onProtocolsChanged.slice(changes).some((list) => list.some((p) => p.path === "third.ts")),
      "the new folder's watcher to report a new file",
    );
  });

  it("creates a folder that does not exist, and remembers the choice for the next start", async () => {
    const next = path.join(dir, "new", "workspace");
    expect(ok(await t.api.setWorkspace({ path: next })).workspace).toBe(next);
    expect(fs.statSync(capturesDir(next)).isDirectory()).toBe(true);

    const reopened = await SettingsStore.open({ dir: path.join(dir, "config"), defaultWorkspace: "/unused" });
    expect(reopened.startWorkspace({})).toBe(next);
    // $WIRESCOPE_WORKSPACE still wins for one run.
    expect(reopened.startWorkspace({ WIRESCOPE_WORKSPACE: "/srv/ws" })).toBe("/srv/ws");

    // Back to the default: nothing is remembered, so the default applies at the next start.
    ok(await t.api.setWorkspace({ path: path.join(dir, "default") }));
    const again = await SettingsStore.open({ dir: path.join(dir, "config"), defaultWorkspace: path.join(dir, "d2") });
    expect(again.workspace).toBeUndefined();
  });

  it("refuses a folder that cannot be a workspace, saying why, and changes nothing", async () => {
    const file = path.join(dir, "a-file.txt");
    fs.writeFileSync(file, "not a folder");
    const cases: [string, string, RegExp][] = [
      ["relative/path", "invalid-workspace", /not a full path/],
      [file, "invalid-workspace", /is a file, not a folder/],
      [path.join(file, "inside"), "invalid-workspace", /part of its path is a file/],
      ["/", "invalid-workspace", /top of the disk/],
      ["   ", "invalid-arguments", /empty/],
    ];
    for (const [input, code, message] of cases) {
      const result = await t.api.setWorkspace({ path: input });
      expect(result.ok, input).toBe(false);
      if (!result.ok) {
        expect(result.error.code, input).toBe(code);
        expect(result.error.message, input).toMatch(message);
      }
    }
    expect(ok(await t.api.getSettings({})).workspace).toBe(t.workspace);
    expect(fs.existsSync(path.join(dir, "config", "settings.json"))).toBe(false);
  });

  it("changes nothing when the choice cannot be saved", async () => {
    const blocked = path.join(dir, "blocked");
    fs.writeFileSync(blocked, "a file where the settings folder should be");
    const unwritable = await SettingsStore.open({ dir: path.join(blocked, "config"), defaultWorkspace: dir });
    const other = await startEngine({ settings: unwritable });
    try {
      const result = await other.api.setWorkspace({ path: path.join(dir, "never") });
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe("settings-unwritable");
        expect(result.error.message).toContain(path.join(blocked, "config", "settings.json"));
      }
      expect(ok(await other.api.getSettings({})).workspace).toBe(other.workspace);
    } finally {
      await other.close();
    }
  });
});
