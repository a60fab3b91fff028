/**
 * The end-to-end tests' fixtures, and helpers that act on the workbench as a user does (its parts are found in
 * ./workbench.ts, by role and accessible name, as renderer/UI-CONTRACT.md defines them).
 *
 * Each test gets its own browser-mode server (a fresh workspace, its own port and token) and a page that opened it;
 * peers (an echo server, redis-server, line clients) are started on demand and stopped after the test.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { test as base, expect, type Locator, type Page, type TestInfo } from "@playwright/test";
import { startBrowserMode, type BrowserMode } from "./browser-mode.ts";
import { holdPort, lineClient, startEchoServer, startRedis, type LineClient, type LocalServer } from "./peers.ts";
import { protocolEditor, selectItem, sendBox, sessionItem, sidebar, trafficView } from "./workbench.ts";

export { freePort, isFree } from "./peers.ts";
export * from "./workbench.ts";

export { expect };

/** The page's own function, run in the browser by `evaluate` (this project's TypeScript has no DOM library). */
declare function getComputedStyle(element: unknown): { color: string; backgroundColor: string };
declare const navigator: { clipboard: { writeText(text: string): Promise<void> } };

interface Fixtures {
  /** This test's browser-mode server. */
  wirescope: BrowserMode;
  /** A page showing the workbench, connected to `wirescope`. */
  app: Page;
  /** An echo server on 127.0.0.1. */
  echo: LocalServer;
  /** redis-server on 127.0.0.1, without persistence. */
  redis: { port: number };
  /** Peers made during the test; all closed after it. */
  peers: {
    lineClient(port: number): Promise<LineClient>;
    holdPort(): Promise<LocalServer>;
  };
}

export const test = base.extend<Fixtures>({
  // Playwright reads the fixtures a fixture needs from its first parameter's destructuring: none here.
  // eslint-disable-next-line no-empty-pattern
  wirescope: async ({}, use, testInfo) => {
    const server = await startBrowserMode();
    try {
      await use(server);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach("server output", { body: server.output(), contentType: "text/plain" });
      }
      await server.stop();
    }
  },

  app: async ({ page, wirescope }, use, testInfo) => {
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.stack ?? err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
    });
    await page.goto(wirescope.url);
    try {
      await expect(sidebar(page)).toBeVisible();
    } catch {
      // Say what the page shows instead: the workbench's own explanation (an alert), or whatever is there.
      const shown = await visibleText(page);
      throw new Error(
        `The workbench did not show its sidebar at ${wirescope.origin}. The page shows: ${JSON.stringify(shown)}` +
          (problems.length > 0 ? `\nBrowser console:\n${problems.join("\n")}` : ""),
      );
    }
    await use(page);
    if (problems.length > 0) {
      await testInfo.attach("browser console", { body: problems.join("\n"), contentType: "text/plain" });
    }
  },

  // eslint-disable-next-line no-empty-pattern
  echo: async ({}, use) => {
    const server = await startEchoServer();
    await use(server);
    await server.close();
  },

  // eslint-disable-next-line no-empty-pattern
  redis: async ({}, use) => {
    const redis = await startRedis();
    await use({ port: redis.port });
    await redis.close();
  },

  // eslint-disable-next-line no-empty-pattern
  peers: async ({}, use) => {
    const open: { close(): Promise<void> }[] = [];
    await use({
      lineClient: async (port) => {
        const client = await lineClient(port);
        open.push(client);
        return client;
      },
      holdPort: async () => {
        const server = await holdPort();
        open.push(server);
        return server;
      },
    });
    await Promise.all(open.map((p) => p.close()));
  },
});

/** What the page shows as text (the first 500 characters), for failure messages. */
async function visibleText(page: Page): Promise<string> {
  const text = await page
    .locator("body")
    .innerText({ timeout: 2_000 })
    .catch(() => "");
  return text.trim().slice(0, 500);
}

/** Opens the detail tab `name` ("Hex", "Text", "Decoded", "Conversation", "TLS", "I/O graph") and returns its panel. */
export async function openTab(
  page: Page,
  name: "Hex" | "Text" | "Decoded" | "Conversation" | "TLS" | "I/O graph",
): Promise<Locator> {
  const tab = trafficView(page).getByRole("tab", { name });
  await tab.click();
  await expect(tab).toHaveAttribute("aria-selected", "true");
  return trafficView(page).getByRole("tabpanel").filter({ visible: true });
}

/** Types `data` in the send box with the given format and line ending, and presses "Send". */
export async function send(
  page: Page,
  data: string,
  options: { format?: "Text" | "Hex"; lineEnding?: "None" | "LF" | "CRLF" } = {},
): Promise<void> {
  const form = sendBox(page);
  await form.getByRole("combobox", { name: "Format" }).selectOption({ label: options.format ?? "Text" });
  await form.getByRole("combobox", { name: "Line ending" }).selectOption({ label: options.lineEnding ?? "None" });
  await form.getByRole("textbox", { name: "Data to send" }).fill(data);
  await form.getByRole("button", { name: "Send" }).click();
}

/**
 * Replaces the whole text in the protocol editor with `source`, as a user would: focus it, select all, paste.
 * (Pasted rather than typed: typing a new line makes the editor indent the next one, so typed code would not come
 * out as written.)
 */
export async function replaceEditorText(page: Page, source: string): Promise<void> {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.evaluate((text) => navigator.clipboard.writeText(text), source);
  await protocolEditor(page)
    .locator(".monaco-editor")
    .first()
    .click({ position: { x: 200, y: 40 } });
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("ControlOrMeta+V");
}

/** The colours a user sees on `element`: "rgb(...) on rgb(...)" (text on background). */
export function colourOf(element: Locator): Promise<string> {
  return element.evaluate((e) => {
    const style = getComputedStyle(e);
    return `${style.color} on ${style.backgroundColor}`;
  });
}

// --- the new-session dialog --------------------------------------------------------------------------------------

export type SessionKind = "connection" | "listener" | "proxy" | "process";

const DIALOG_TITLE: Record<SessionKind, string> = {
  connection: "New connection",
  listener: "New listener",
  proxy: "New proxy",
  process: "New process",
};

/** Presses "New connection" / "New listener" / "New proxy" / "New process" in the sidebar and returns the dialog it opened. */
export async function openNewSessionDialog(page: Page, kind: SessionKind): Promise<Locator> {
  await sidebar(page).getByRole("button", { name: DIALOG_TITLE[kind], exact: true }).click();
  const dialog = page.getByRole("dialog", { name: DIALOG_TITLE[kind] });
  await expect(dialog).toBeVisible();
  return dialog;
}

/** A labelled field of a dialog, by its exact label ("Port" is not "Upstream port"). */
export function field(dialog: Locator, label: string): Locator {
  return dialog.getByLabel(label, { exact: true });
}

/** Fills the dialog's fields that are given (by label); leaves the others as they are. */
export async function fillFields(dialog: Locator, values: Record<string, string>): Promise<void> {
  for (const [label, value] of Object.entries(values)) await field(dialog, label).fill(value);
}

/** Picks the option of a select whose text matches `option` (e.g. /Template: Redis \(RESP\) proxy tap/). */
export async function chooseOption(select: Locator, option: RegExp): Promise<string> {
  const labels = (await select.locator("option").allTextContents()).map((l) => l.trim());
  const label = labels.find((l) => option.test(l));
  if (label === undefined)
    throw new Error(`no option matching ${String(option)}; the options are ${labels.join(" | ")}`);
  await select.selectOption({ label });
  return label;
}

/**
 * Expects `input` to be marked invalid with a message matching `message` next to it: its accessible description
 * (aria-describedby), or an alert in `scope` (the dialog, the send form).
 */
export async function expectFieldError(scope: Locator, input: Locator, message: RegExp): Promise<void> {
  await expect(input, "the field is marked invalid").toHaveAttribute("aria-invalid", "true");
  if (await input.getAttribute("aria-describedby")) {
    await expect(input, "the field's description says what is wrong").toHaveAccessibleDescription(message);
  } else {
    await expect(scope.getByRole("alert").filter({ hasText: message }), "an alert says what is wrong").toBeVisible();
  }
}

// --- screenshots ---------------------------------------------------------------------------------------------------

/**
 * Saves the page as test-results/screens/<name>-light.png and <name>-dark.png (the OS colour scheme emulated), and
 * attaches both to the test's report. The main screens are kept this way as artifacts of every run.
 */
export async function saveScreens(page: Page, name: string, testInfo: TestInfo = test.info()): Promise<void> {
  const dir = path.join(testInfo.project.outputDir, "screens");
  fs.mkdirSync(dir, { recursive: true });
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    // Let the app restyle what follows the scheme from script (the editor's theme) before the picture.
    await page.waitForTimeout(150);
    const file = path.join(dir, `${name}-${colorScheme}.png`);
    await page.screenshot({ path: file, animations: "disabled" });
    await testInfo.attach(`${name}-${colorScheme}`, { path: file, contentType: "image/png" });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Opens the import dialog from the sidebar's "Import capture…" and returns it. */
export async function openImportDialog(page: Page): Promise<Locator> {
  await sidebar(page).getByRole("button", { name: "Import capture…" }).click();
  const dialog = page.getByRole("dialog", { name: "Import capture" });
  await expect(dialog).toBeVisible();
  return dialog;
}

/** Opens the settings dialog from the status bar's "Settings" and returns it. */
export async function openSettings(page: Page): Promise<Locator> {
  await page.getByRole("contentinfo").getByRole("button", { name: "Settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Settings" });
  await expect(dialog).toBeVisible();
  return dialog;
}

// --- sessions and their actions --------------------------------------------------------------------------------------

/** Opens a client session to 127.0.0.1:`port` through the new-connection dialog and selects it once connected. */
export async function connectClient(page: Page, port: number): Promise<Locator> {
  const dialog = await openNewSessionDialog(page, "connection");
  await fillFields(dialog, { Host: "127.0.0.1", Port: String(port) });
  await dialog.getByRole("button", { name: "Connect" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(page, String(port));
  await expect(session).toContainText(/connected/i);
  await selectItem(session);
  return session;
}

/** The sidebar's group of actions for the selected session or connection ("Actions for echo client, ..."). */
export function actions(page: Page): Locator {
  return sidebar(page).getByRole("group", { name: /^Actions for/ });
}
