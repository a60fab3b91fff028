/**
 * The settings file: where it lives, what a missing or broken one gives, and that a change reaches the disk whole.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SETTINGS_FILE,
  SettingsStore,
  SettingsUnwritableError,
  defaultWorkspace,
  savedWorkspace,
  settingsDir,
} from "./settings.ts";
import { openStartWorkspace } from "./start-workspace.ts";
import { InvalidWorkspaceError, openWorkspaceFolder, resolveWorkspacePath } from "./workspace-folder.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "wirescope-settings-unit-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("where the settings live", () => {
  it("in browser mode: $WIRESCOPE_CONFIG_DIR, else $XDG_CONFIG_HOME/wirescope, else ~/.config/wirescope", () => {
    expect(settingsDir({ env: { WIRESCOPE_CONFIG_DIR: "/tmp/c", XDG_CONFIG_HOME: "/x" } })).toBe("/tmp/c");
    expect(settingsDir({ env: { XDG_CONFIG_HOME: "/x" }, homeDir: "/home/u" })).toBe("/x/wirescope");
    expect(settingsDir({ env: {}, homeDir: "/home/u" })).toBe("/home/u/.config/wirescope");
  });

  it("the default workspace is <documents>/Wirescope, whatever $WIRESCOPE_WORKSPACE says", () => {
    expect(defaultWorkspace("/d", { WIRESCOPE_WORKSPACE: "/srv/ws" })).toBe("/d/Wirescope");
    expect(defaultWorkspace(undefined, { XDG_DOCUMENTS_DIR: "/docs" })).toBe("/docs/Wirescope");
  });
});

describe("the settings store", () => {
  it("starts with the defaults when there is no file, and creates nothing until a change", async () => {
    const store = await SettingsStore.open({ dir: path.join(dir, "config"), defaultWorkspace: "/d/Wirescope" });
    expect(store.problem).toBeNull();
    expect(store.workspace).toBeUndefined();
    expect(store.startWorkspace({})).toBe("/d/Wirescope");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes the choice whole (no temporary file left) and reads it back", async () => {
    const config = path.join(dir, "config");
    const store = await SettingsStore.open({ dir: config, defaultWorkspace: "/d/Wirescope" });
    await store.rememberWorkspace("/home/me/protocols");
    expect(readdirSync(config)).toEqual([SETTINGS_FILE]);
    expect(JSON.parse(readFileSync(path.join(config, SETTINGS_FILE), "utf8"))).toEqual({
      version: 1,
      workspace: "/home/me/protocols",
    });
    const again = await SettingsStore.open({ dir: config, defaultWorkspace: "/d/Wirescope" });
    expect(again.startWorkspace({})).toBe("/home/me/protocols");
  });

  it("keeps two quick changes in order: the last one wins", async () => {
    const store = await SettingsStore.open({ dir, defaultWorkspace: "/d/Wirescope" });
    await Promise.all([store.rememberWorkspace("/a"), store.rememberWorkspace("/b")]);
    expect(JSON.parse(readFileSync(path.join(dir, SETTINGS_FILE), "utf8")).workspace).toBe("/b");
  });

  it("starts with the defaults from a broken file, says why, and replaces it on the next change", async () => {
    for (const [content, why] of [
      ["{ not json", /is not JSON/],
      ["[1, 2]", /does not hold an object/],
      ['{ "workspace": "relative/path" }', /not an absolute folder path/],
    ] as const) {
      writeFileSync(path.join(dir, SETTINGS_FILE), content);
      const store = await SettingsStore.open({ dir, defaultWorkspace: "/d/Wirescope" });
      expect(store.problem).toMatch(why);
      expect(store.startWorkspace({})).toBe("/d/Wirescope");
    }
    const store = await SettingsStore.open({ dir, defaultWorkspace: "/d/Wirescope" });
    await store.rememberWorkspace("/fixed");
    expect((await SettingsStore.open({ dir, defaultWorkspace: "/d" })).problem).toBeNull();
  });

  it("rejects with what to check when the file cannot be written, and keeps what it had", async () => {
    writeFileSync(path.join(dir, "file"), "");
    const store = await SettingsStore.open({ dir: path.join(dir, "file", "config"), defaultWorkspace: "/d" });
    await expect(store.rememberWorkspace("/elsewhere")).rejects.toBeInstanceOf(SettingsUnwritableError);
    await expect(store.rememberWorkspace("/elsewhere")).rejects.toMatchObject({ code: "settings-unwritable" });
    expect(store.workspace).toBeUndefined();
  });
});

describe("the folder a user types", () => {
  it("is made absolute from ~ and refused when relative, empty or the top of the disk", () => {
    expect(resolveWorkspacePath(" ~/protocols ", "/home/me")).toBe("/home/me/protocols");
    expect(resolveWorkspacePath("/srv/ws/", "/home/me")).toBe("/srv/ws");
    for (const bad of ["protocols", "./x", "", "/", "/a\0b"]) {
      expect(() => resolveWorkspacePath(bad, "/home/me"), bad).toThrow(InvalidWorkspaceError);
    }
  });

  it("becomes a workspace, created with its README and captures/ when missing", async () => {
    const workspace = await openWorkspaceFolder(path.join(dir, "a", "b"));
    expect(workspace.root).toBe(path.join(dir, "a", "b"));
    expect(readdirSync(workspace.root).sort()).toEqual(["README.txt", "captures"]);
  });
});

describe("the workspace a front end starts on", () => {
  it("is the saved one, opened and laid out", async () => {
    const saved = path.join(dir, "protocols");
    writeFileSync(path.join(dir, SETTINGS_FILE), JSON.stringify({ version: 1, workspace: saved }));
    const store = await SettingsStore.open({ dir, defaultWorkspace: path.join(dir, "default") });
    expect(await openStartWorkspace(store, {})).toEqual({ root: saved, problem: null });
    expect(readdirSync(saved).sort()).toEqual(["README.txt", "captures"]);
  });

  it("is the default, with the reason, when the saved one is now a file; the choice stays saved", async () => {
    const file = path.join(dir, "afile");
    writeFileSync(file, "not a folder");
    writeFileSync(path.join(dir, SETTINGS_FILE), JSON.stringify({ version: 1, workspace: file }));
    const store = await SettingsStore.open({ dir, defaultWorkspace: path.join(dir, "default") });
    const start = await openStartWorkspace(store, {});
    expect(start.root).toBe(path.join(dir, "default"));
    expect(start.problem).toContain(`The workspace saved in Settings, ${file}, cannot be used`);
    expect(start.problem).toMatch(/is a file, not a folder/);
    expect(start.problem).toContain(`opened the default workspace, ${path.join(dir, "default")}`);
    expect(readdirSync(start.root).sort()).toEqual(["README.txt", "captures"]);
    expect(store.workspace).toBe(file);
  });

  it("is refused, not replaced, when $WIRESCOPE_WORKSPACE names a file", async () => {
    const file = path.join(dir, "afile");
    writeFileSync(file, "");
    const store = await SettingsStore.open({ dir, defaultWorkspace: path.join(dir, "default") });
    await expect(openStartWorkspace(store, { WIRESCOPE_WORKSPACE: file })).rejects.toBeInstanceOf(
      InvalidWorkspaceError,
    );
  });

  it("for the CLI: $WIRESCOPE_WORKSPACE, else the saved one, else the default", async () => {
    const env = { WIRESCOPE_CONFIG_DIR: dir, XDG_DOCUMENTS_DIR: path.join(dir, "docs") };
    expect(await savedWorkspace({ env })).toBe(path.join(dir, "docs", "Wirescope"));
    const store = await SettingsStore.open({ dir, defaultWorkspace: path.join(dir, "docs", "Wirescope") });
    await store.rememberWorkspace("/home/me/protocols");
    expect(await savedWorkspace({ env })).toBe("/home/me/protocols");
    expect(await savedWorkspace({ env: { ...env, WIRESCOPE_WORKSPACE: "/srv/ws" } })).toBe("/srv/ws");
  });
});
