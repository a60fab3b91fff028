/**
 * The workspace's layout: the names the README documents, and where the workspace is by default.
 */
import { describe, expect, it } from "vitest";
import {
  CAPTURES_DIR,
  CLI_PROTOCOLS_DIR,
  defaultWorkspaceRoot,
  EXPORTS_DIR,
  PROFILES_FILE,
  TRASH_DIR,
} from "./layout.ts";

describe("layout", () => {
  it("names the files and folders as the README tells the user", () => {
    expect([PROFILES_FILE, CAPTURES_DIR, EXPORTS_DIR, CLI_PROTOCOLS_DIR, TRASH_DIR]).toEqual([
      "profiles.json",
      "captures",
      "exports",
      "cli",
      ".trash",
    ]);
  });
});

describe("defaultWorkspaceRoot", () => {
  it("is $WIRESCOPE_WORKSPACE, else <documents>/Wirescope from the shell, $XDG_DOCUMENTS_DIR or ~/Documents", () => {
    expect(defaultWorkspaceRoot({ env: { WIRESCOPE_WORKSPACE: "/srv/ws" }, documentsDir: "/d" })).toBe("/srv/ws");
    expect(defaultWorkspaceRoot({ env: { XDG_DOCUMENTS_DIR: "/x" }, documentsDir: "/d" })).toBe("/d/Wirescope");
    expect(defaultWorkspaceRoot({ env: { XDG_DOCUMENTS_DIR: "/x" } })).toBe("/x/Wirescope");
    expect(defaultWorkspaceRoot({ env: {}, homeDir: "/home/u" })).toBe("/home/u/Documents/Wirescope");
  });
});
