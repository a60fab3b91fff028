/**
 * Basic accessibility checks (axe-core, WCAG 2 A and AA rules) on the main screens, in the light and the dark theme:
 * the welcome view, the new-connection dialog showing a field error, the new-listener dialog with TLS fields, the
 * new-process dialog (its parsed command, a program that doesn't exist) and a process session's view, a
 * client session's traffic view with traffic (the Hex and Conversation tabs), and the protocol editor; the
 * interchange screens: the import dialog with a bad file and with a capture's conversations, an imported session,
 * the decode dialog and a decode session, the replay dialog and the replay view; the settings dialog asking to
 * regenerate the CA. Every screen must have no violation at all.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import {
  actions,
  chooseOption,
  connectClient,
  expect,
  expectFieldError,
  field,
  fillFields,
  openNewSessionDialog,
  openSettings,
  openTab,
  protocolEditor,
  protocolItem,
  send,
  sidebar,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";
import { connectWithCommands } from "./commands-protocol.ts";

/** One line per violation and per element it was found on: rule, impact, target, and what axe says is wrong. */
function describeViolations(violations: Awaited<ReturnType<AxeBuilder["analyze"]>>["violations"]): string {
  return violations
    .flatMap((v) =>
      v.nodes.map(
        (n) =>
          `- ${v.id} (${v.impact ?? "?"}) at ${n.target.join(" ")}: ${(n.failureSummary ?? v.help).replace(/\s+/g, " ")}`,
      ),
    )
    .join("\n");
}

/** Runs axe on the page as it is now in the light and the dark theme, and expects no violation in either. */
async function expectAccessible(page: Page, screen: string, exclude: string[] = []): Promise<void> {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    // Let what follows the scheme from script (the editor's theme) restyle before the check.
    await page.waitForTimeout(150);
    let builder = new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]);
    for (const selector of exclude) builder = builder.exclude(selector);
    const { violations } = await builder.analyze();
    expect(violations, `axe violations on ${screen} (${colorScheme}):\n${describeViolations(violations)}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

test("the welcome view", async ({ app }) => {
  await expect(sidebar(app).getByRole("button", { name: "New connection", exact: true })).toBeVisible();
  await expectAccessible(app, "the welcome view");
});

test("the new-connection dialog with a field error", async ({ app }) => {
  const dialog = await openNewSessionDialog(app, "connection");
  await fillFields(dialog, { Host: "127.0.0.1", Port: "70000" });
  await dialog.getByRole("button", { name: "Connect" }).click();
  await expectFieldError(dialog, field(dialog, "Port"), /65535/);
  await expectAccessible(app, "the new-connection dialog");
});

test("the new-listener dialog with TLS from own files and a field error", async ({ app }) => {
  const dialog = await openNewSessionDialog(app, "listener");
  await field(dialog, "TLS mode").selectOption({ label: "TLS" });
  await field(dialog, "Certificate").selectOption({ label: "Own files" });
  await fillFields(dialog, { Port: "0", "Certificate file": "/tmp/cert.pem" });
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expectFieldError(dialog, field(dialog, "Key file"), /key/i);
  await expectAccessible(app, "the new-listener dialog with TLS");
});

test("the new-process dialog with its parsed command and a field error, and a process session", async ({ app }) => {
  const dialog = await openNewSessionDialog(app, "process");
  await fillFields(dialog, { "Command line": "no-such-program-wirescope 'an argument'", Environment: "LANG=C" });
  await expect(dialog.getByRole("list", { name: "Parsed command" }).getByRole("listitem")).toHaveCount(2);
  await dialog.getByRole("button", { name: "Run" }).click();
  await expectFieldError(dialog, field(dialog, "Command line"), /no-such-program-wirescope/);
  await expectAccessible(app, "the new-process dialog");

  await fillFields(dialog, { "Command line": `sh -c 'echo fine; echo oops >&2; exit 3'` });
  await dialog.getByRole("button", { name: "Run" }).click();
  await expect(dialog).toBeHidden();
  await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText("exited with code 3");
  await expect(timelineRows(app, "← stderr", "oops")).toHaveCount(1);
  await expectAccessible(app, "a process session's traffic view");
});

test("a client session's traffic view, its Hex and Conversation tabs", async ({ app, echo }) => {
  await connectClient(app, echo.port);
  await expect(trafficView(app)).toBeVisible();

  await send(app, String.raw`hello\r\n`);
  await send(app, "48 69 21 0a", { format: "Hex" });
  await expect(timelineRows(app, "←", "Hi!")).toHaveCount(1);
  await timelineRows(app, "←", "Hi!").click();

  await expect(await openTab(app, "Hex")).toContainText(/48\s*69\s*21\s*0a/i);
  await expectAccessible(app, "the traffic view, Hex tab");

  const conversation = await openTab(app, "Conversation");
  await expect(conversation.locator(".dir-in").filter({ hasText: "Hi!" }).first()).toBeVisible();
  await expectAccessible(app, "the traffic view, Conversation tab");
});

test("a decoded message's field tree beside its bytes, the Messages view and the I/O graph", async ({
  app,
  echo,
  wirescope,
}) => {
  await connectWithCommands(app, wirescope.workspace, echo.port);
  await send(app, String.raw`SET greeting hello\r\n`);
  await timelineRows(app, "info", "SET greeting").click();
  const decoded = await openTab(app, "Decoded");
  await decoded.getByRole("treeitem", { name: /^key/ }).click();
  await expect(decoded.getByRole("region", { name: "Message bytes" }).locator("mark").first()).toBeVisible();
  await expectAccessible(app, "a decoded message's Decoded tab");

  await trafficView(app).getByRole("switch", { name: "Messages" }).click();
  await expect(trafficView(app).getByRole("columnheader", { name: "Latency" })).toBeVisible();
  const graph = await openTab(app, "I/O graph");
  await expect(graph.getByRole("img", { name: /^Bytes per second/ })).toBeVisible();
  await expectAccessible(app, "the Messages view and the I/O graph");
});

test("the protocol editor, on a file from the line template", async ({ app }) => {
  await sidebar(app).getByRole("button", { name: "New protocol", exact: true }).click();
  const create = app.getByRole("dialog", { name: "New protocol" });
  await field(create, "Name").fill("lines");
  await chooseOption(field(create, "Template"), /Line-based/);
  await create.getByRole("button", { name: "Create" }).click();
  await expect(create).toBeHidden();
  await protocolItem(app, "lines.ts").click();
  const editor = protocolEditor(app);
  await expect(editor).toContainText("LineReceiver");
  await expectAccessible(app, "the protocol editor");
});

// --- interchange --------------------------------------------------------------------------------------------------------

test("the import dialog with a bad file and with a capture's conversations, and an imported session", async ({
  app,
  echo,
}, testInfo) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`hello\n`);
  await expect(timelineRows(app, "←", "hello")).toHaveCount(1);
  const download = app.waitForEvent("download");
  await actions(app).getByRole("button", { name: "Export as pcapng" }).click();
  const saved = testInfo.outputPath("export.pcapng");
  await (await download).saveAs(saved);

  await sidebar(app).getByRole("button", { name: "Import capture…" }).click();
  const dialog = app.getByRole("dialog", { name: "Import capture" });
  const input = field(dialog, "Capture file");
  await input.setInputFiles({ name: "bad.pcap", mimeType: "application/octet-stream", buffer: Buffer.from("nope") });
  await expect(input).toHaveAttribute("aria-invalid", "true");
  await expectAccessible(app, "the import dialog with a bad file");

  await input.setInputFiles(saved);
  await expect(dialog.getByRole("table", { name: "Conversations" })).toBeVisible();
  await expectAccessible(app, "the import dialog listing conversations");
  await dialog.getByRole("button", { name: "Open conversation 1" }).click();
  await expect(timelineRows(app, "→", "hello")).toHaveCount(1);
  await expectAccessible(app, "an imported session");
});

test("the decode dialog and a decode session", async ({ app, echo }) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`one\ntwo\n`);
  await expect(timelineRows(app, "←", "one")).toHaveCount(1);
  await actions(app).getByRole("button", { name: "Decode with protocol…" }).click();
  const dialog = app.getByRole("dialog", { name: "Decode with protocol" });
  await chooseOption(field(dialog, "Protocol"), /^Template: Line-based$/);
  await dialog.getByRole("checkbox", { name: "Re-split the stream" }).check();
  await field(dialog, "Runs").fill("many");
  await dialog.getByRole("button", { name: "Decode" }).click();
  await expectFieldError(dialog, field(dialog, "Runs"), /whole number/);
  await expectAccessible(app, "the decode dialog with a field error");

  await field(dialog, "Runs").fill("4");
  await dialog.getByRole("button", { name: "Decode" }).click();
  await expect(dialog.getByRole("region", { name: "Re-split report" })).toBeVisible();
  await expectAccessible(app, "the decode dialog's re-split report");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(trafficView(app)).toContainText(/decoded with line\.ts/);
  await expectAccessible(app, "a decode session");
});

test("the replay dialog and the replay view", async ({ app, echo }) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`ping\n`);
  await expect(timelineRows(app, "←", "ping")).toHaveCount(1);
  await actions(app).getByRole("button", { name: "Replay…" }).click();
  const dialog = app.getByRole("dialog", { name: "Replay" });
  await expect(dialog).toBeVisible();
  await expectAccessible(app, "the replay dialog");
  await dialog.getByRole("button", { name: "Replay" }).click();
  await expect(dialog).toBeHidden();
  const view = app.getByRole("region", { name: "Replay" });
  await expect(view.getByRole("status")).toHaveText(/1 the same, 0 different/);
  await expectAccessible(app, "the replay view");
});

test("the settings dialog with the certificate authority, asking to regenerate it", async ({ app }) => {
  const section = (await openSettings(app)).getByRole("region", { name: "Certificate authority" });
  await expect(section.getByText(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/)).toBeVisible();
  await section.getByRole("button", { name: "Regenerate…" }).click();
  await expect(section.getByRole("group", { name: "Regenerate the certificate authority?" })).toBeVisible();
  await expectAccessible(app, "the settings dialog asking to regenerate the CA");
});
