/**
 * Every decision of the Electron shell that can be made without Electron, as pure functions, so that they are
 * tested under Node (main/shell/app.ts only wires them to Electron's objects): the window's security options, the
 * Content-Security-Policy, which URLs and frames are the app's, the window state remembered between runs, the
 * application menu, and when a crashed renderer is reloaded.
 *
 * Follows Electron's security checklist (https://www.electronjs.org/docs/latest/tutorial/security).
 * Imports Electron's types only: loading the `electron` package under Node looks for its binary.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BrowserWindowConstructorOptions, MenuItemConstructorOptions, Rectangle } from "electron";
import { contentSecurityPolicy } from "../adapters/workbench-files.ts";
import { APP_URL } from "./app-protocol.ts";

/** The window's size when nothing was remembered, and the smallest the workbench's layout works at. */
export const DEFAULT_SIZE = { width: 1280, height: 800 } as const;
export const MIN_SIZE = { width: 800, height: 500 } as const;

/** Where the window is and whether it was maximized: what is remembered between runs. */
export interface WindowState {
  /** Absent x/y: let Electron center the window on the primary display. */
  bounds: { x?: number; y?: number; width: number; height: number };
  maximized: boolean;
}

/**
 * The BrowserWindow's options, created once per window by the shell. Guarantees the renderer gets no Node and no
 * Electron (contextIsolation, sandbox, nodeIntegration off everywhere), web security on, no insecure content, no
 * <webview>, no drag-and-drop navigation; `preloadPath` is the only script that sees Electron, and it exposes only
 * the contract (preload/electron-preload.ts). The window starts hidden; the shell shows it once ready.
 */
export function windowOptions(preloadPath: string, state: WindowState): BrowserWindowConstructorOptions {
  return {
    ...state.bounds,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    title: "Wirescope",
    show: false,
    backgroundColor: "#1e1e1e",
    webPreferences: {
      preload: preloadPath,
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
    },
  };
}

/**
 * Response headers with the workbench's CSP set (main/adapters/workbench-files.ts, browser mode's too, without its
 * WebSocket: the contract travels over IPC), for `session.webRequest.onHeadersReceived`. The app's own scheme
 * already sends it (app-protocol.ts); this puts it on any other response the window might get, replacing any CSP
 * the response carried, in any letter case, so that only ours applies.
 */
export function withContentSecurityPolicy(
  headers: Record<string, string | string[]> | undefined,
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== "content-security-policy") result[name] = Array.isArray(value) ? value : [value];
  }
  result["Content-Security-Policy"] = [contentSecurityPolicy()];
  return result;
}

/**
 * Whether `url` is the app's own page: the same scheme, host and path as `app` (by default `APP_URL`,
 * app://wirescope/index.html); query and fragment may differ.
 * The shell refuses navigation anywhere else and every new window; anything that is not a URL is not the app.
 */
export function isAppUrl(url: string, app: string = APP_URL): boolean {
  try {
    const a = new URL(url);
    const b = new URL(app);
    return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
  } catch {
    return false;
  }
}

/** What the trust check sees of a frame (Electron's WebFrameMain fits). */
export interface FrameLike {
  readonly url: string;
  readonly parent: unknown;
}

/**
 * Whether an IPC call's sender frame is the app's own: a top-level frame (no parent: an <iframe> never gets the
 * contract) showing the app's page. Null (the frame navigated away or was destroyed) is not.
 */
export function isAppFrame(frame: FrameLike | null, app: string = APP_URL): boolean {
  return frame !== null && frame.parent === null && isAppUrl(frame.url, app);
}

/** The window state file, in Electron's user data folder (`app.getPath("userData")`). */
export const WINDOW_STATE_FILE = "window-state.json";

/**
 * The remembered state made to fit the displays now attached (`workAreas`: each display's work area, primary
 * first). Anything unreadable gives the default size, centered. A window on no display (one was unplugged) keeps
 * its size but is centered; a window partly off its display is moved (then shrunk if needed) to fit in it.
 */
export function restoreWindowState(saved: unknown, workAreas: readonly Rectangle[]): WindowState {
  const fallback: WindowState = { bounds: { ...DEFAULT_SIZE }, maximized: false };
  if (typeof saved !== "object" || saved === null) return fallback;
  const { bounds, maximized } = saved as { bounds?: unknown; maximized?: unknown };
  if (typeof bounds !== "object" || bounds === null) return fallback;
  const { x, y, width, height } = bounds as Record<string, unknown>;
  if (!isFiniteNumber(width) || !isFiniteNumber(height)) return fallback;
  const size = {
    width: Math.max(MIN_SIZE.width, Math.round(width)),
    height: Math.max(MIN_SIZE.height, Math.round(height)),
  };
  const wasMaximized = maximized === true;
  const area = isFiniteNumber(x) && isFiniteNumber(y) ? mostOverlapped({ x, y, ...size }, workAreas) : undefined;
  if (!area) {
    const primary = workAreas[0];
    const fitted = primary
      ? { width: Math.min(size.width, primary.width), height: Math.min(size.height, primary.height) }
      : size;
    return { bounds: fitted, maximized: wasMaximized };
  }
  const w = Math.min(size.width, area.width);
  const h = Math.min(size.height, area.height);
  return {
    bounds: {
      x: clamp(Math.round(x as number), area.x, area.x + area.width - w),
      y: clamp(Math.round(y as number), area.y, area.y + area.height - h),
      width: w,
      height: h,
    },
    maximized: wasMaximized,
  };
}

/** Reads the remembered state (unknown: `restoreWindowState` checks it); null when there is none or it is broken. */
export function readWindowState(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/**
 * Remembers the state, atomically (a temporary file then a rename: a crash leaves the old state or the new).
 * Called through rememberWindow; a failure is the caller's to log, never a reason not to quit.
 */
export function writeWindowState(file: string, state: WindowState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state)}\n`);
  renameSync(temporary, file);
}

/** What `rememberWindow` asks of a window (Electron's BrowserWindow has it all). */
export interface StatefulWindow {
  isDestroyed(): boolean;
  /** The bounds it has when neither maximized nor minimized. */
  getNormalBounds(): Rectangle;
  isMaximized(): boolean;
}

/**
 * Remembers `window`'s position, size and maximized state in `file` (writeWindowState). Called by the shell when the
 * window closes and in `before-quit`: quitting from the menu or Cmd+Q ends with `app.exit`, which closes windows
 * without their close events. A destroyed window is skipped. Never throws: a failure goes to `log`, and quitting
 * goes on.
 */
export function rememberWindow(
  file: string,
  window: StatefulWindow,
  log: (message: string, err: unknown) => void = console.error,
): void {
  if (window.isDestroyed()) return;
  try {
    writeWindowState(file, { bounds: window.getNormalBounds(), maximized: window.isMaximized() });
  } catch (err) {
    log("wirescope: could not remember the window's position", err);
  }
}

/** The application menu: Electron's standard roles only (edit shortcuts, reload, zoom, window, quit). */
export function menuTemplate(platform: NodeJS.Platform): MenuItemConstructorOptions[] {
  const menus: MenuItemConstructorOptions[] = [
    { role: "fileMenu" },
    { role: "editMenu" },
    { role: "viewMenu" },
    { role: "windowMenu" },
  ];
  return platform === "darwin" ? [{ role: "appMenu" }, ...menus] : menus;
}

/** How many renderer crashes within `CRASH_WINDOW_MS` are reloaded before the shell gives up and says so. */
export const MAX_CRASH_RELOADS = 3;
export const CRASH_WINDOW_MS = 60_000;

/**
 * Decides, for each renderer crash, whether to reload the window: yes unless it already crashed
 * `MAX_CRASH_RELOADS` times in the last `CRASH_WINDOW_MS` (a page that crashes as it loads would otherwise reload
 * forever). `now` is injected for tests.
 */
export function createCrashPolicy(now: () => number = Date.now): () => boolean {
  const crashes: number[] = [];
  return () => {
    const t = now();
    while (crashes.length > 0 && t - crashes[0]! >= CRASH_WINDOW_MS) crashes.shift();
    crashes.push(t);
    return crashes.length <= MAX_CRASH_RELOADS;
  };
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(Math.max(v, min), Math.max(min, max));
}

/** The work area the rectangle overlaps most, or none when it overlaps none. */
function mostOverlapped(r: Rectangle, areas: readonly Rectangle[]): Rectangle | undefined {
  let best: Rectangle | undefined;
  let bestArea = 0;
  for (const a of areas) {
    const w = Math.min(r.x + r.width, a.x + a.width) - Math.max(r.x, a.x);
    const h = Math.min(r.y + r.height, a.y + a.height) - Math.max(r.y, a.y);
    if (w > 0 && h > 0 && w * h > bestArea) {
      best = a;
      bestArea = w * h;
    }
  }
  return best;
}
