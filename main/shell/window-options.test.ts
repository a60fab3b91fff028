/**
 * The shell's decisions, under Node: the BrowserWindow's security options and the CSP, which URLs and
 * frames count as the app, the remembered window state on the displays at hand, the menu, the crash policy.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contentSecurityPolicy as browserModePolicy } from "../adapters/ws-server.ts";
import { contentSecurityPolicy } from "../adapters/workbench-files.ts";
import { APP_URL } from "./app-protocol.ts";
import {
  CRASH_WINDOW_MS,
  DEFAULT_SIZE,
  MAX_CRASH_RELOADS,
  MIN_SIZE,
  createCrashPolicy,
  isAppFrame,
  isAppUrl,
  menuTemplate,
  readWindowState,
  rememberWindow,
  restoreWindowState,
  windowOptions,
  withContentSecurityPolicy,
  writeWindowState,
} from "./window-options.ts";

const APP = APP_URL;

/** A policy as a map from directive to its sources. */
function directives(policy: string): Map<string, string> {
  return new Map(
    policy.split(";").map((part) => {
      const [name, ...sources] = part.trim().split(/\s+/);
      return [name!, sources.join(" ")];
    }),
  );
}

describe("the window's security options", () => {
  it("isolates the renderer: no Node, sandboxed, web security on, only the preload sees Electron", () => {
    const options = windowOptions("/app/preload.cjs", { bounds: { ...DEFAULT_SIZE }, maximized: false });
    expect(options.webPreferences).toEqual({
      preload: "/app/preload.cjs",
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
    });
    expect(options).toMatchObject({ show: false, width: DEFAULT_SIZE.width, height: DEFAULT_SIZE.height });
    expect(options.minWidth).toBe(MIN_SIZE.width);
  });
});

describe("the Content-Security-Policy", () => {
  it("allows its own code only: no eval, no inline script, no network, blob: workers for the editor", () => {
    const policy = directives(contentSecurityPolicy());
    expect(policy.get("default-src")).toBe("'self'");
    expect(policy.get("script-src")).toBe("'self'");
    expect(policy.get("connect-src")).toBe("'self'");
    expect(policy.get("style-src")).toBe("'self' 'unsafe-inline'");
    expect(policy.get("worker-src")).toBe("'self' blob:");
    expect(policy.get("object-src")).toBe("'none'");
    expect(policy.get("base-uri")).toBe("'none'");
    expect(policy.get("frame-ancestors")).toBe("'none'");
    expect(contentSecurityPolicy()).not.toMatch(/unsafe-eval|wasm-unsafe-eval|\*|https?:|ws:/);
  });

  it("is browser mode's policy without its WebSocket (one function makes both)", () => {
    const desktop = directives(contentSecurityPolicy());
    const browser = directives(browserModePolicy(40123));
    browser.set("connect-src", "'self'");
    expect(desktop).toEqual(browser);
  });

  it("replaces any policy a response carried, whatever its case, and keeps other headers", () => {
    const headers = withContentSecurityPolicy({
      "content-security-policy": ["default-src *"],
      "Content-Type": "text/html",
    });
    expect(headers).toEqual({ "Content-Type": ["text/html"], "Content-Security-Policy": [contentSecurityPolicy()] });
    expect(withContentSecurityPolicy(undefined)).toEqual({ "Content-Security-Policy": [contentSecurityPolicy()] });
  });
});

describe("what counts as the app", () => {
  it("is the built page on the app's own scheme only, whatever its query or fragment", () => {
    expect(APP).toBe("app://wirescope/index.html");
    expect(isAppUrl(APP)).toBe(true);
    expect(isAppUrl(`${APP}#/sessions`)).toBe(true);
    expect(isAppUrl(`${APP}?x=1`, APP)).toBe(true);
    for (const url of [
      "https://example.com/",
      "file:///etc/passwd",
      "file:///index.html",
      "app://wirescope/other.html",
      "app://evil/index.html",
      "http://wirescope/index.html",
      "http://127.0.0.1/index.html",
      "javascript:alert(1)",
      "not a url",
      "",
    ]) {
      expect(isAppUrl(url, APP), url).toBe(false);
    }
  });

  it("accepts IPC from the app's top-level frame only", () => {
    expect(isAppFrame({ url: APP, parent: null })).toBe(true);
    expect(isAppFrame({ url: APP, parent: null }, APP)).toBe(true);
    expect(isAppFrame({ url: APP, parent: { url: APP } }, APP)).toBe(false);
    expect(isAppFrame({ url: "https://example.com/", parent: null }, APP)).toBe(false);
    expect(isAppFrame(null, APP)).toBe(false);
  });
});

describe("the remembered window state", () => {
  const primary = { x: 0, y: 0, width: 1920, height: 1040 };
  const right = { x: 1920, y: 0, width: 1280, height: 1024 };

  it("comes back as it was when it fits a display", () => {
    const saved = { bounds: { x: 2000, y: 50, width: 1000, height: 700 }, maximized: true };
    expect(restoreWindowState(saved, [primary, right])).toEqual(saved);
  });

  it("is moved back onto the display it mostly covers, then shrunk to fit", () => {
    expect(
      restoreWindowState({ bounds: { x: 1700, y: -40, width: 1000, height: 700 }, maximized: false }, [primary]),
    ).toEqual({ bounds: { x: 920, y: 0, width: 1000, height: 700 }, maximized: false });
    expect(
      restoreWindowState({ bounds: { x: 1900, y: 10, width: 3000, height: 2000 }, maximized: false }, [primary, right]),
    ).toEqual({ bounds: { x: 1920, y: 0, width: 1280, height: 1024 }, maximized: false });
  });

  it("is centered when its display is gone, and never smaller than the minimum", () => {
    expect(
      restoreWindowState({ bounds: { x: 2000, y: 50, width: 100, height: 100 }, maximized: false }, [primary]),
    ).toEqual({ bounds: { ...MIN_SIZE }, maximized: false });
  });

  it("falls back to the default size, centered, when missing or broken", () => {
    for (const saved of [
      null,
      "x",
      {},
      { bounds: { width: "big", height: 5 } },
      { bounds: { width: NaN, height: 1 } },
    ]) {
      expect(restoreWindowState(saved, [primary]), JSON.stringify(saved)).toEqual({
        bounds: { ...DEFAULT_SIZE },
        maximized: false,
      });
    }
  });

  describe("on disk", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "wirescope-window-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("is written and read back, and a broken file reads as none", async () => {
      const file = path.join(dir, "nested", "window-state.json");
      expect(readWindowState(file)).toBeNull();
      const state = { bounds: { x: 10, y: 20, width: 900, height: 600 }, maximized: true };
      writeWindowState(file, state);
      expect(readWindowState(file)).toEqual(state);
      await writeFile(file, "{ half");
      expect(readWindowState(file)).toBeNull();
    });

    it("is remembered from the window (at close and at quit), skipped for a destroyed one, never throwing", async () => {
      const file = path.join(dir, "window-state.json");
      const window = {
        destroyed: false,
        isDestroyed: () => window.destroyed,
        getNormalBounds: () => ({ x: 5, y: 6, width: 1000, height: 700 }),
        isMaximized: () => false,
      };
      rememberWindow(file, window);
      expect(readWindowState(file)).toEqual({ bounds: { x: 5, y: 6, width: 1000, height: 700 }, maximized: false });

      window.destroyed = true;
      window.getNormalBounds = () => ({ x: 0, y: 0, width: 1, height: 1 });
      rememberWindow(file, window);
      expect(readWindowState(file)).toEqual({ bounds: { x: 5, y: 6, width: 1000, height: 700 }, maximized: false });

      const logged: string[] = [];
      await writeFile(path.join(dir, "a-file"), "");
      window.destroyed = false;
      rememberWindow(path.join(dir, "a-file", "window-state.json"), window, (message) => logged.push(message));
      expect(logged).toEqual(["wirescope: could not remember the window's position"]);
    });
  });
});

describe("the application menu", () => {
  it("uses Electron's standard roles, with the app menu on macOS", () => {
    expect(menuTemplate("linux").map((m) => m.role)).toEqual(["fileMenu", "editMenu", "viewMenu", "windowMenu"]);
    expect(menuTemplate("darwin").map((m) => m.role)).toEqual([
      "appMenu",
      "fileMenu",
      "editMenu",
      "viewMenu",
      "windowMenu",
    ]);
  });
});

describe("after a renderer crash", () => {
  it("reloads, until it crashed too often in a short time", () => {
    let t = 0;
    const shouldReload = createCrashPolicy(() => t);
    for (let i = 0; i < MAX_CRASH_RELOADS; i++) expect(shouldReload()).toBe(true);
    expect(shouldReload()).toBe(false);
    t += CRASH_WINDOW_MS;
    expect(shouldReload()).toBe(true);
  });
});
