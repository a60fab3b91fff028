/**
 * Settings in browser mode: the user moves the workspace to another folder from the status bar's "Settings" and
 * sees the Protocols list become that folder's; a folder that cannot be a workspace is explained next to the field.
 * (The browser-mode server has its own settings folder: the user's settings are never touched.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startBrowserMode } from "./browser-mode.ts";
import { expect, openSettings, protocolItem, protocolsList, saveScreens, test } from "./fixtures.ts";

test("moving the workspace to another folder shows that folder's protocols", async ({ app, wirescope }) => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-e2e-other-"));
  try {
    fs.writeFileSync(path.join(other, "remote.ts"), 'export { Protocol as default } from "wirescope";\n');
    fs.writeFileSync(path.join(wirescope.workspace, "local.ts"), 'export { Protocol as default } from "wirescope";\n');
    await expect(protocolItem(app, "local.ts")).toBeVisible();

    const dialog = await openSettings(app);
    const folder = dialog.getByRole("textbox", { name: "Workspace folder" });
    await expect(folder).toHaveValue(wirescope.workspace);
    await expect(folder).toHaveAccessibleDescription(/The default is .*Wirescope/);
    await saveScreens(app, "settings");
    await folder.fill(other);
    await dialog.getByRole("button", { name: "Save" }).click();

    await expect(dialog).toBeHidden();
    await expect(protocolItem(app, "remote.ts")).toBeVisible();
    await expect(protocolsList(app)).not.toContainText("local.ts");
    await expect(app.getByRole("contentinfo").getByRole("status")).toContainText(`Workspace: ${other}`);

    // Reopened, the dialog shows the folder now in use.
    const again = await openSettings(app);
    await expect(again.getByRole("textbox", { name: "Workspace folder" })).toHaveValue(other);
    await again.getByRole("button", { name: "Cancel" }).click();
    await expect(again).toBeHidden();
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test("a folder that cannot be the workspace is explained next to the field, and nothing changes", async ({
  app,
  wirescope,
}) => {
  fs.writeFileSync(path.join(wirescope.workspace, "local.ts"), 'export { Protocol as default } from "wirescope";\n');
  await expect(protocolItem(app, "local.ts")).toBeVisible();
  const dialog = await openSettings(app);
  const folder = dialog.getByRole("textbox", { name: "Workspace folder" });
  await folder.fill("relative/folder");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(folder).toHaveAttribute("aria-invalid", "true");
  await expect(folder).toHaveAccessibleDescription(/not a full path/);
  await expect(dialog.getByRole("alert")).toContainText("not a full path");
  await app.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(protocolItem(app, "local.ts")).toBeVisible();
});

test("a saved workspace that became a file: the workbench starts on the default one and says why", async ({ page }) => {
  const afile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-e2e-afile-")), "was-a-folder");
  fs.writeFileSync(afile, "the saved workspace is now a file");
  const server = await startBrowserMode({ savedWorkspace: afile });
  try {
    await page.goto(server.url);
    const status = page.getByRole("contentinfo").getByRole("status");
    await expect(status).toContainText("cannot be used");
    await expect(status).toContainText("Choose another folder in Settings.");
    const dialog = await openSettings(page);
    await expect(dialog.getByRole("status")).toContainText("is a file, not a folder");
    await expect(dialog.getByRole("textbox", { name: "Workspace folder" })).toHaveValue(server.workspace);
  } finally {
    await server.stop();
    fs.rmSync(path.dirname(afile), { recursive: true, force: true });
  }
});
