/**
 * Wirescope's CA in the Settings dialog, in browser mode: the "Certificate authority" section shows the engine's CA
 * (made in the server's own settings folder, never the user's) by its file and fingerprint; "Download CA
 * certificate" downloads that very certificate; "Regenerate…" asks first, and only a confirmed regeneration
 * replaces it — on disk and on screen.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Locator } from "@playwright/test";
import { expect, openSettings, saveScreens, test } from "./fixtures.ts";

/** The section, in the open Settings dialog. */
function caSection(dialog: Locator): Locator {
  return dialog.getByRole("region", { name: "Certificate authority" });
}

/** The fingerprint of the CA certificate file the engine keeps in `config`. */
function fingerprintOnDisk(config: string): string {
  return new X509Certificate(fs.readFileSync(path.join(config, "wirescope-ca.pem"))).fingerprint256;
}

test("the section shows the engine's CA, and the download is that certificate", async ({ app, wirescope }) => {
  const dialog = await openSettings(app);
  const section = caSection(dialog);
  const file = path.join(wirescope.config, "wirescope-ca.pem");
  await expect(section.getByText(file, { exact: true })).toBeVisible();
  const fingerprint = fingerprintOnDisk(wirescope.config);
  await expect(section.getByText(fingerprint, { exact: true })).toBeVisible();
  await expect(section).toContainText(/Valid until\s*\w{3} +\d+ [\d:]+ \d{4} GMT/);
  await saveScreens(app, "settings-ca");

  const [download] = await Promise.all([
    app.waitForEvent("download"),
    section.getByRole("button", { name: "Download CA certificate" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("wirescope-ca.pem");
  const pem = fs.readFileSync(await download.path(), "utf8");
  expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  expect(new X509Certificate(pem).fingerprint256).toBe(fingerprint);
});

test("regenerating asks first; once confirmed, the CA on disk and on screen is a new one", async ({
  app,
  wirescope,
}) => {
  const dialog = await openSettings(app);
  const section = caSection(dialog);
  // The engine makes the CA when the section first asks for it: read the file once the section shows it.
  await expect(section.getByText(path.join(wirescope.config, "wirescope-ca.pem"), { exact: true })).toBeVisible();
  const before = fingerprintOnDisk(wirescope.config);
  await expect(section.getByText(before, { exact: true })).toBeVisible();

  const regenerate = section.getByRole("button", { name: "Regenerate…" });
  await regenerate.click();
  const confirm = section.getByRole("group", { name: "Regenerate the certificate authority?" });
  await expect(confirm).toHaveAccessibleDescription(/must|trust the new one/);
  await expect(confirm.getByRole("button", { name: "Keep this CA" })).toBeFocused();
  await saveScreens(app, "settings-ca-regenerate");
  await confirm.getByRole("button", { name: "Keep this CA" }).click();
  await expect(confirm).toBeHidden();
  await expect(regenerate).toBeFocused();
  expect(fingerprintOnDisk(wirescope.config)).toBe(before);

  await regenerate.click();
  await confirm.getByRole("button", { name: "Regenerate", exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(section.getByText(before, { exact: true })).toBeHidden();
  const after = fingerprintOnDisk(wirescope.config);
  expect(after).not.toBe(before);
  await expect(section.getByText(after, { exact: true })).toBeVisible();

  // Reopened, the dialog shows the new one.
  await dialog.getByRole("button", { name: "Cancel" }).click();
  const again = caSection(await openSettings(app));
  await expect(again.getByText(after, { exact: true })).toBeVisible();
});

test("a CA file that can't be read is explained, and regenerating replaces it", async ({ app, wirescope }) => {
  fs.mkdirSync(wirescope.config, { recursive: true });
  const file = path.join(wirescope.config, "wirescope-ca.pem");
  fs.writeFileSync(file, "damaged");
  fs.writeFileSync(path.join(wirescope.config, "wirescope-ca-key.pem"), "damaged");
  const section = caSection(await openSettings(app));
  await expect(section.getByRole("alert")).toContainText(`${file} is damaged`);
  await expect(section.getByRole("button", { name: "Download CA certificate" })).toBeDisabled();

  await section.getByRole("button", { name: "Regenerate…" }).click();
  await section.getByRole("button", { name: "Regenerate", exact: true }).click();
  await expect(section.getByRole("alert")).toBeHidden();
  await expect(section.getByText(fingerprintOnDisk(wirescope.config), { exact: true })).toBeVisible();
});
