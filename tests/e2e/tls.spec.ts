/**
 * TLS in the workbench: a TLS listener and a terminating proxy made in their dialogs, with real node:tls peers on
 * 127.0.0.1 that trust the CA the Settings dialog names; the connection's TLS details and plaintext in the detail
 * pane; the keys as a download; a key file that is not a key explained at its field; a client that rejects the CA;
 * a STARTTLS proxy's heading.
 */
import * as fs from "node:fs";
import type { Locator, Page } from "@playwright/test";
import {
  actions,
  connectionItem,
  expect,
  expectFieldError,
  field,
  fillFields,
  freePort,
  openNewSessionDialog,
  openSettings,
  openTab,
  saveScreens,
  selectItem,
  sessionItem,
  sessionItems,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";
import {
  TEST_CA_FILE,
  TEST_CERT_FILE,
  TEST_KEY_FILE,
  openSSLClient,
  startShoutingTLSServer,
  tlsClient,
} from "./tls-peers.ts";

/** The value shown for `term` in the Settings dialog's "Certificate authority" section. */
async function caValue(dialog: Locator, term: string): Promise<string> {
  const ca = dialog.getByRole("region", { name: "Certificate authority" });
  return (await ca.locator("dt", { hasText: term }).locator("xpath=following-sibling::dd[1]").innerText()).trim();
}

/** Wirescope's CA certificate (PEM), read from the file Settings names, as a user gives it to a client. */
async function wirescopeCA(page: Page): Promise<string> {
  const dialog = await openSettings(page);
  const file = await caValue(dialog, "Certificate file");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  return fs.readFileSync(file, "utf8");
}

/** The lines of an SSLKEYLOGFILE: a label, the client random (32 bytes, hex) and a secret (hex). */
const KEY_LOG_LINE = /^(CLIENT_RANDOM|[A-Z_]+_SECRET(_0)?) [0-9a-f]{64} [0-9a-f]{64,}$/;

test("a TLS listener made in the dialog: a client trusting Wirescope's CA connects, its plaintext and TLS shown, its keys exported", async ({
  app,
}) => {
  const ca = await wirescopeCA(app);
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "listener");
  await fillFields(dialog, { Port: String(port), Interface: "127.0.0.1" });
  await field(dialog, "TLS mode").selectOption({ label: "TLS" });
  await expect(field(dialog, "Certificate")).toHaveValue("wirescope-ca");
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/listening/i);
  await selectItem(session);
  await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText("TLS (Wirescope CA)");

  const client = await tlsClient(port, ca);
  try {
    client.write("hello over tls\n");
    await selectItem(connectionItem(app, 1));
    await expect(timelineRows(app, "←", "hello over tls"), "the plaintext, not the records").toHaveCount(1);
    const handshake = timelineRows(app).filter({ has: app.getByRole("gridcell", { name: "tls", exact: true }) });
    await expect(handshake, "the handshake is a row of its own").toHaveCount(1);

    const panel = await openTab(app, "TLS");
    const details = panel.getByRole("table", { name: "TLS of Connection 1" });
    await expect(details).toContainText(client.version);
    await expect(details.getByRole("row", { name: /^SNI/ })).toContainText("localhost");
    await expect(details.getByRole("row", { name: /^Cipher/ })).toContainText(/TLS_|ECDHE/);
    await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText(client.version);
    await saveScreens(app, "tls-listener");

    const downloading = app.waitForEvent("download");
    await actions(app).getByRole("button", { name: "Export TLS keys" }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/-conn-1-tls-keys\.txt$/);
    const lines = fs
      .readFileSync((await download.path())!, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(lines.length, "a TLS 1.3 handshake leaves several secrets").toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(KEY_LOG_LINE);
  } finally {
    await client.close();
  }
});

test("a terminating proxy in front of a TLS server: both legs in plaintext, the upstream's certificate shown", async ({
  app,
}) => {
  const ca = await wirescopeCA(app);
  const upstream = await startShoutingTLSServer();
  const port = await freePort();
  try {
    const dialog = await openNewSessionDialog(app, "proxy");
    await fillFields(dialog, {
      Port: String(port),
      Interface: "127.0.0.1",
      "Upstream host": "127.0.0.1",
      "Upstream port": String(upstream.port),
    });
    await field(dialog, "TLS mode").selectOption({ label: "Terminate TLS" });
    await expect(field(dialog, "TLS"), "the upstream is TLS anyway").toBeDisabled();
    // The upstream's certificate comes from a test CA that Wirescope does not trust.
    await dialog.getByRole("checkbox", { name: "Skip upstream verification" }).check();
    await dialog.getByRole("button", { name: "Start proxy" }).click();
    await expect(dialog).toBeHidden();
    const session = sessionItem(app, String(port));
    await expect(session).toContainText(/listening/i);

    const client = await tlsClient(port, ca);
    try {
      client.write("ping\n");
      await client.waitFor("PING\n");
      await selectItem(session);
      await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText("TLS (Wirescope CA)");
      await expect(timelineRows(app, "ping").first(), "what the client sent, in plaintext").toBeVisible();
      await expect(timelineRows(app, "PING").first(), "what the upstream answered, in plaintext").toBeVisible();

      await selectItem(connectionItem(app, 2));
      const panel = await openTab(app, "TLS");
      const details = panel.getByRole("table", { name: "TLS of Connection 2" });
      await expect(details.getByRole("row", { name: /^Peer certificate subject/ })).toContainText("localhost");
      await expect(details.getByRole("row", { name: /^Verification/ })).toContainText("not verified");
      await saveScreens(app, "tls-proxy");
    } finally {
      await client.close();
    }
  } finally {
    await upstream.close();
  }
});

test("a key file that is not a key is explained under its field, and nothing starts", async ({ app }) => {
  const dialog = await openNewSessionDialog(app, "listener");
  await fillFields(dialog, { Port: "0", Interface: "127.0.0.1" });
  await field(dialog, "TLS mode").selectOption({ label: "TLS" });
  await field(dialog, "Certificate").selectOption({ label: "Own files" });
  // The certificate where the key should be: a PEM file, but not a private key.
  await fillFields(dialog, { "Certificate file": TEST_CERT_FILE, "Key file": TEST_CERT_FILE });
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expectFieldError(dialog, field(dialog, "Key file"), /key/i);
  await expect(dialog).toBeVisible();
  await expect(sessionItems(app)).toHaveCount(0);
  await saveScreens(app, "tls-bad-key");

  // The right key: the listener starts with the user's own certificate.
  await field(dialog, "Key file").fill(TEST_KEY_FILE);
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expect(dialog).toBeHidden();
  await selectItem(sessionItems(app).first());
  await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText("TLS (own certificate)");
});

test("a client that does not trust Wirescope's CA: the tls-failed row says so, and the fix is shown whole", async ({
  app,
}) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "listener");
  await fillFields(dialog, { Port: String(port), Interface: "127.0.0.1" });
  await field(dialog, "TLS mode").selectOption({ label: "TLS" });
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expect(dialog).toBeHidden();
  await selectItem(sessionItem(app, String(port)));

  // Trusting only the test CA, openssl rejects Wirescope's certificate with an "unknown CA" alert.
  expect(await openSSLClient(port, TEST_CA_FILE)).toMatch(/verify error/i);
  const failed = timelineRows(app).filter({ has: app.getByRole("gridcell", { name: "tls-failed", exact: true }) });
  await expect(failed).toHaveCount(1);
  await failed.click();
  const panel = await openTab(app, "Decoded");
  const failure = panel.getByRole("table", { name: "TLS handshake failure" });
  await expect(failure.getByRole("row", { name: /^Likely fix/ })).toContainText(/wirescope-ca\.pem/);
  await saveScreens(app, "tls-failed");
});

test("a STARTTLS proxy made in the dialog says so next to its address", async ({ app, echo }) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "proxy");
  await fillFields(dialog, {
    Port: String(port),
    Interface: "127.0.0.1",
    "Upstream host": "127.0.0.1",
    "Upstream port": String(echo.port),
  });
  await field(dialog, "TLS mode").selectOption({ label: "STARTTLS through the protocol" });
  await expect(field(dialog, "TLS"), "the upstream starts plain: its TLS box still counts").toBeEnabled();
  await dialog.getByRole("button", { name: "Start proxy" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/listening/i);
  await selectItem(session);
  await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText(`on 127.0.0.1:${port}`);
  await expect(trafficView(app).getByRole("heading", { level: 2 })).toContainText("STARTTLS");
});
