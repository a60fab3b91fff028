/**
 * `npm start`'s decision, under Node: launch Electron where its binary is, download it where that is allowed,
 * and otherwise run browser mode, saying in two lines why the desktop app cannot start and how to get it.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DOWNLOAD_TIMEOUT_MS,
  DOWNLOADING_MESSAGE,
  decideStart,
  electronPackageAt,
  findElectronBinary,
  type ElectronPackage,
} from "./electron-binary.ts";

const DIR = path.join(path.sep, "work", "node_modules", "electron");

/** A package folder holding exactly `files` (path -> text). */
function pkg(files: Record<string, string>, dir: string | null = DIR): ElectronPackage {
  return { dir, exists: (f) => f in files, readText: (f) => files[f] ?? null };
}

describe("finding Electron's binary", () => {
  it("finds the executable path.txt names under dist/, as the electron package does", () => {
    const executable = path.join(DIR, "dist", "electron");
    const found = findElectronBinary(pkg({ [path.join(DIR, "path.txt")]: "electron", [executable]: "" }), {});
    expect(found).toEqual({ found: true, executable });
  });

  it("honours ELECTRON_OVERRIDE_DIST_PATH", () => {
    const executable = path.join("/opt/electron", "electron");
    expect(findElectronBinary(pkg({ [executable]: "" }), { ELECTRON_OVERRIDE_DIST_PATH: "/opt/electron" })).toEqual({
      found: true,
      executable,
    });
    const missing = findElectronBinary(pkg({}), { ELECTRON_OVERRIDE_DIST_PATH: "/opt/electron" });
    expect(missing).toMatchObject({ found: false, reason: expect.stringContaining("ELECTRON_OVERRIDE_DIST_PATH") });
  });

  it("says why when there is none: never downloaded, half-removed, package missing", () => {
    expect(findElectronBinary(pkg({}), {})).toMatchObject({
      found: false,
      reason: expect.stringMatching(/never downloaded/),
    });
    const stale = findElectronBinary(pkg({ [path.join(DIR, "path.txt")]: "electron" }), {});
    expect(stale).toMatchObject({ found: false, reason: expect.stringMatching(/binary is missing/) });
    expect(findElectronBinary(pkg({}, null), {})).toMatchObject({
      found: false,
      reason: expect.stringMatching(/not installed/),
    });
  });

  it("reads this machine's electron package from files only, never loading the electron module", () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const here = electronPackageAt(root);
    expect(here.dir).toBe(path.join(root, "node_modules", "electron"));
    const found = findElectronBinary(here, {});
    if (found.found) expect(here.exists(found.executable)).toBe(true);
    else expect(found.reason).toMatch(/never downloaded|binary is missing/);
  });
});

describe("what npm start does", () => {
  it("launches Electron when its binary exists", () => {
    expect(decideStart({ found: true, executable: "/x/electron" }, { env: {} })).toEqual({
      action: "launch",
      executable: "/x/electron",
    });
  });

  it("downloads the binary first when it is missing and downloads are allowed, once", () => {
    const missing = { found: false as const, reason: "its binary was never downloaded" };
    expect(decideStart(missing, { env: {} })).toEqual({ action: "download" });
    expect(decideStart(missing, { env: { ELECTRON_SKIP_BINARY_DOWNLOAD: "0" } })).toEqual({ action: "download" });
    const after = decideStart(missing, { env: {}, downloaded: true });
    expect(after.action).toBe("browser");
    if (after.action === "browser") {
      expect(after.message).toContain("downloading it failed");
      // Nothing to unset: the variable did not stop the download.
      expect(after.message).not.toContain("unset ELECTRON_SKIP_BINARY_DOWNLOAD");
    }
    expect(DOWNLOADING_MESSAGE).toMatch(/downloading Electron's binary \(about 100 MB/);
    expect(DOWNLOADING_MESSAGE).toContain(`giving up after ${DOWNLOAD_TIMEOUT_MS / 60_000} minutes`);
  });

  it("otherwise runs browser mode, saying in two lines why and how to get the desktop app", () => {
    const decision = decideStart(
      { found: false, reason: "its binary was never downloaded" },
      { env: { ELECTRON_SKIP_BINARY_DOWNLOAD: "1" } },
    );
    expect(decision.action).toBe("browser");
    if (decision.action !== "browser") return;
    expect(decision.message.trimEnd().split("\n")).toHaveLength(2);
    expect(decision.message).toContain("its binary was never downloaded; ELECTRON_SKIP_BINARY_DOWNLOAD is set");
    expect(decision.message).toContain("runs in your browser instead");
    expect(decision.message).toContain("npx install-electron");
    expect(decision.message).toContain("unset ELECTRON_SKIP_BINARY_DOWNLOAD");
    expect(decision.message).toContain("internet");
  });
});
