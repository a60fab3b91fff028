/**
 * End-to-end tests of the workbench in a real Chromium (Debian's, never a downloaded one) against browser mode and
 * real peers on 127.0.0.1. `npm run test:e2e` builds the renderer, then runs these. See tests/e2e/fixtures.ts.
 */
import { defineConfig } from "@playwright/test";
import { CHROMIUM, CHROMIUM_ARGS } from "./tests/e2e/chromium.ts";

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: "*.spec.ts",
  // Fails the run, saying how to get one, when there is no Chromium or no built workbench: never a silent skip.
  globalSetup: "./tests/e2e/global-setup.ts",
  outputDir: "test-results",
  // Two cores here: each test runs a browser-mode server, its sandbox workers and a Chromium.
  workers: 2,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    screenshot: "on",
    trace: "retain-on-failure",
    launchOptions: { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] },
  },
  projects: [
    { name: "chromium" },
    // The real desktop app through Playwright's _electron, where an Electron binary exists; skipped, saying why,
    // where none does (tests/desktop/electron.spec.ts).
    { name: "desktop", testDir: "tests/desktop" },
  ],
});
