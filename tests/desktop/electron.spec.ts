/**
 * The desktop app, for real: Playwright's `_electron` launches the built app (out/main/main.js with the workbench in
 * renderer/dist) where Electron's binary exists. The window opens with its title and the workbench, the contract
 * object on `window` answers, and a listener session starts through it.
 *
 * Where there is no binary (it cannot be downloaded on the machines this is developed and tested on), the test is
 * skipped, and the run's output says exactly why and how to get one. Everything the shell relies on is tested under
 * Node elsewhere (main/shell/*.test.ts, tests/packaging/).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { _electron as electron, expect, test, type ElectronApplication } from "@playwright/test";
import type { Result, SessionInfo, WirescopeApi } from "../../preload/contract.ts";
import { buildDesktop } from "../../scripts/build-desktop.ts";
import { electronBinary, openDisplay, ROOT, type Display } from "./electron-app.ts";

/** The page's global, in `evaluate` (this project's TypeScript has no DOM library). */
declare const window: { wirescope: WirescopeApi };

const binary = electronBinary();

test.describe("the desktop app", () => {
  let display: Display | null = null;
  let app: ElectronApplication | null = null;
  let dir: string | null = null;

  test.beforeAll(async () => {
    if (!binary.found) {
      const reason = `Skipped the Electron smoke test: no Electron binary on this machine (${binary.reason}). Get one with \`npx install-electron\` where there is internet; browser mode is tested in tests/e2e.`;
      console.log(reason);
      test.skip(true, reason);
      return;
    }
    const opened = await openDisplay();
    if (typeof opened === "string") {
      const reason = `Skipped the Electron smoke test: ${opened}.`;
      console.log(reason);
      test.skip(true, reason);
      return;
    }
    display = opened;
    await buildDesktop();
    dir = mkdtempSync(path.join(os.tmpdir(), "wirescope-desktop-"));
    app = await electron.launch({
      executablePath: binary.executable,
      // Root in a container cannot use Chromium's OS sandbox; the renderer's own options are what is tested here.
      args: [
        ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
        `--user-data-dir=${path.join(dir, "user-data")}`,
        ROOT,
      ],
      cwd: ROOT,
      env: {
        ...(process.env as Record<string, string>),
        ...display.env,
        WIRESCOPE_WORKSPACE: path.join(dir, "workspace"),
      },
      timeout: 30_000,
    });
  });

  test.afterAll(async () => {
    await app?.close();
    await display?.stop();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  });

  test("opens its window on the workbench, and the contract on window answers and starts a listener", async () => {
    if (app === null) throw new Error("the app did not launch");
    const page = await app.firstWindow();
    await expect(page).toHaveTitle("Wirescope");
    expect(page.url()).toBe("app://wirescope/index.html");
    await expect(page.getByRole("complementary", { name: "Sessions and protocols" })).toBeVisible();

    const listed = await page.evaluate(() => window.wirescope.listSessions({}));
    expect(listed).toEqual({ ok: true, value: [] });

    const started: Result<SessionInfo> = await page.evaluate(() =>
      window.wirescope.listen({ target: { port: 0, interface: "127.0.0.1" }, name: "smoke" }),
    );
    expect(started.ok).toBe(true);
    if (started.ok) expect(started.value).toMatchObject({ name: "smoke", kind: "listener", state: "listening" });
    await expect(
      page.getByRole("list", { name: "Sessions" }).or(page.getByRole("tree", { name: "Sessions" })),
    ).toContainText("smoke");
  });
});
