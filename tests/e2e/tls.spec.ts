/**
 * TLS in the workbench: Wirescope's CA in Settings; a TLS listener and a terminating proxy made in their dialogs,
 * with real node:tls peers on 127.0.0.1 that trust the CA the Settings dialog names; the connection's TLS details
 * and plaintext in the detail pane; the keys as a download; a key file that is not a key explained at its field.
 */
import * as fs from "node:fs";
import type { Locator, Page } from "@playwright/test";
import { expect, saveScreens, test } from "./fixtures.ts";

/** Opens Settings from the status bar; returns the dialog and its "Certificate authority" section. */
async function openSettings(page: Page) {
  await page.getByRole("contentinfo").getByRole("button", { name: "Settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Settings" });
  await expect(dialog).toBeVisible();
  return { dialog, ca: dialog.getByRole("region", { name: "Certificate authority" }) };
}

/** The value shown for `term` in the CA section's description list. */
async function caValue(ca: Locator, term: string): Promise<string> {
  return (await ca.locator("dt", { hasText: term }).locator("xpath=following-sibling::dd[1]").innerText()).trim();
}

test("Settings shows Wirescope's CA, downloads its certificate, and regenerates it once confirmed", async ({ app }) => {
  const { dialog, ca } = await openSettings(app);
  await expect(ca.locator("dd").first()).toContainText("wirescope-ca.pem");
  const file = await caValue(ca, "Certificate file");
  const fingerprint = await caValue(ca, "SHA-256");
  expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  await saveScreens(app, "settings-ca");

  const downloading = app.waitForEvent("download");
  await ca.getByRole("button", { name: "Download CA certificate" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("wirescope-ca.pem");
  const saved = fs.readFileSync((await download.path())!, "utf8");
  expect(saved, "the download is the CA file the section names").toBe(fs.readFileSync(file, "utf8"));

  await ca.getByRole("button", { name: "Regenerate…" }).click();
  const confirm = ca.getByRole("group", { name: "Regenerate the certificate authority?" });
  await confirm.getByRole("button", { name: "Keep this CA" }).click();
  expect(await caValue(ca, "SHA-256"), "keeping it changes nothing").toBe(fingerprint);
  await ca.getByRole("button", { name: "Regenerate…" }).click();
  await confirm.getByRole("button", { name: "Regenerate" }).click();
  await expect(ca.locator("dd").nth(2)).not.toHaveText(fingerprint);
  expect(fs.readFileSync(file, "utf8"), "the file clients trust is the new CA").not.toBe(saved);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(app.getByRole("contentinfo").getByRole("status")).toContainText(/New certificate authority/);
});
