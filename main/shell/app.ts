/**
 * The Electron main process: the one place the engine meets Electron (DESIGN.md). Thin on purpose — no Electron
 * binary can be had on the machines this is built on, so every decision lives in window-options.ts and
 * app-protocol.ts (tested under Node) and the IPC in adapters/electron.ts (tested over an in-memory pair); this file
 * only wires them to Electron's objects. Loaded by main.ts (the entry), once ESBUILD_BINARY_PATH is settled.
 *
 * Expects the built layout (scripts/build-desktop.ts): `<app>/renderer/dist/` (the workbench, served as
 * app://wirescope/) and `<app>/out/preload/electron-preload.cjs` (preload/electron-preload.ts bundled as CommonJS:
 * sandboxed preloads cannot be ES modules), where `<app>` is `app.getAppPath()`.
 */
import { realpath } from "node:fs/promises";
import path from "node:path";
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  protocol,
  screen,
  session,
  type RenderProcessGoneDetails,
  type WebContents,
} from "electron";
import { registerElectronAdapter, type ElectronAdapter } from "../adapters/electron.ts";
import { Engine } from "../engine/engine.ts";
import { defaultWorkspace, SettingsStore, settingsDir } from "../settings/settings.ts";
import { openStartWorkspace } from "../settings/start-workspace.ts";
import { APP_SCHEME, APP_SCHEMES, APP_URL, serveAppRequest } from "./app-protocol.ts";
import {
  WINDOW_STATE_FILE,
  createCrashPolicy,
  isAppFrame,
  isAppUrl,
  menuTemplate,
  readWindowState,
  rememberWindow,
  restoreWindowState,
  windowOptions,
  withContentSecurityPolicy,
} from "./window-options.ts";

const rendererDir = path.join(app.getAppPath(), "renderer", "dist");
const preloadPath = path.join(app.getAppPath(), "out", "preload", "electron-preload.cjs");

let engine: Engine | null = null;
let adapter: ElectronAdapter | null = null;
let mainWindow: BrowserWindow | null = null;
let quitting = false;

// Every renderer sandboxed, whatever a window's options say (Electron's checklist, item 4).
app.enableSandbox();
// Before ready, and once: the workbench's own scheme (app-protocol.ts says why not file://).
protocol.registerSchemesAsPrivileged(APP_SCHEMES);

if (!app.requestSingleInstanceLock()) {
  // Another Wirescope runs: it gets our `second-instance` and shows its window; this one leaves.
  app.quit();
} else {
  app.on("second-instance", () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on("web-contents-created", (_event, contents) => lockDown(contents));
  app.on("window-all-closed", () => {
    if (process.platform !== "darwin") app.quit();
  });
  app.on("activate", () => {
    if (engine && !mainWindow) openWindow();
  });
  app.on("before-quit", (event) => {
    if (quitting || !engine) return;
    // Graceful quit: sessions closed, captures flushed, listeners released, then exit for real.
    event.preventDefault();
    quitting = true;
    // app.exit below closes the window without its "close" event: remember where it was now.
    if (mainWindow) rememberWindow(windowStateFile(), mainWindow);
    adapter?.dispose();
    engine
      .close()
      .catch((err: unknown) => console.error("wirescope: the engine did not close cleanly", err))
      .finally(() => app.exit(0));
  });
  start().catch((err: unknown) => {
    console.error("wirescope: could not start", err);
    dialog.showErrorBox("Wirescope could not start", err instanceof Error ? err.message : String(err));
    app.exit(1);
  });
}

async function start(): Promise<void> {
  await app.whenReady();
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(process.platform)));
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders) }),
  );
  const rendererRoot = await realpath(rendererDir).catch(() => {
    throw new Error(`The workbench is not built (${rendererDir} is missing): run \`npm run build:renderer\`.`);
  });
  protocol.handle(APP_SCHEME, (request) => serveAppRequest(request, rendererRoot));

  // The workspace: $WIRESCOPE_WORKSPACE for this run, else the one chosen in Settings (the settings file shared with
  // browser mode and the CLI), else <Documents>/Wirescope — also when the saved one can no longer be used.
  const settings = await SettingsStore.open({
    dir: settingsDir(),
    defaultWorkspace: defaultWorkspace(app.getPath("documents")),
  });
  if (settings.problem !== null) console.warn(`wirescope: settings: ${settings.problem}`);
  const start = await openStartWorkspace(settings);
  if (start.problem !== null) console.warn(`wirescope: ${start.problem}`);
  const opened = await Engine.open({ workspaceRoot: start.root, settings, startProblem: start.problem });
  engine = opened;
  adapter = registerElectronAdapter({
    ipcMain,
    service: opened,
    isTrustedSender: (frame) => isAppFrame(frame),
    targets: () => BrowserWindow.getAllWindows().map((window) => window.webContents),
    serviceFailed: (name, err) => console.error(`wirescope: ${name} failed:`, err),
  });
  opened.setEventSink(adapter.emit);
  openWindow();
  if (start.problem !== null && mainWindow) {
    void dialog.showMessageBox(mainWindow, {
      type: "warning",
      message: "The workspace saved in Settings could not be opened.",
      detail: `${start.problem} Choose another folder in Settings.`,
    });
  }
}

/** Where the window's position is remembered: Electron's user data folder, unlike the settings (settingsDir). */
function windowStateFile(): string {
  return path.join(app.getPath("userData"), WINDOW_STATE_FILE);
}

/** No navigation away from the app, no new windows, no <webview>: for every web contents, as it is created. */
function lockDown(contents: WebContents): void {
  contents.on("will-navigate", (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on("will-redirect", (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on("will-attach-webview", (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: "deny" }));
}

function openWindow(): void {
  const stateFile = windowStateFile();
  const displays = [screen.getPrimaryDisplay(), ...screen.getAllDisplays()];
  const state = restoreWindowState(
    readWindowState(stateFile),
    displays.map((display) => display.workArea),
  );
  const window = new BrowserWindow(windowOptions(preloadPath, state));
  mainWindow = window;
  window.once("ready-to-show", () => {
    if (state.maximized) window.maximize();
    window.show();
  });
  window.on("close", () => rememberWindow(stateFile, window));
  window.on("closed", () => {
    if (mainWindow === window) mainWindow = null;
  });
  const shouldReload = createCrashPolicy();
  window.webContents.on("render-process-gone", (_event, details) => rendererGone(window, details, shouldReload));
  window.loadURL(APP_URL).catch((err: unknown) => {
    console.error(`wirescope: could not load the workbench (${APP_URL}, from ${rendererDir})`, err);
  });
}

/** The workbench crashed: sessions live in main and keep running; reload it and say so, unless it keeps crashing. */
function rendererGone(window: BrowserWindow, details: RenderProcessGoneDetails, shouldReload: () => boolean): void {
  if (details.reason === "clean-exit" || window.isDestroyed()) return;
  console.error(`wirescope: the workbench's renderer is gone (${details.reason}, exit code ${details.exitCode})`);
  if (!shouldReload()) {
    dialog.showErrorBox(
      "Wirescope's workbench keeps crashing",
      `It stopped (${details.reason}) several times in a minute and was not reloaded again. Your sessions are still running; use View → Reload to try again.`,
    );
    return;
  }
  window.reload();
  void dialog.showMessageBox(window, {
    type: "warning",
    message: "The workbench crashed and was reloaded.",
    detail: `Reason: ${details.reason}. Your sessions kept running and their traffic is still recorded.`,
  });
}
