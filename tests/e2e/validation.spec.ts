/**
 * Each invalid input is explained next to its field, and nothing else happens: no session is made, nothing is sent.
 */
import {
  connectClient,
  expect,
  expectFieldError,
  field,
  fillFields,
  openNewSessionDialog,
  saveScreens,
  send,
  sendBox,
  sessionItems,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

test.describe("a new-session dialog explains a wrong field and changes nothing", () => {
  test("port 70000", async ({ app }) => {
    const dialog = await openNewSessionDialog(app, "connection");
    await fillFields(dialog, { Host: "127.0.0.1", Port: "70000" });
    await dialog.getByRole("button", { name: "Connect" }).click();
    await expectFieldError(dialog, field(dialog, "Port"), /65535/);
    await expect(dialog, "the dialog stays open to fix it").toBeVisible();
    await expect(sessionItems(app)).toHaveCount(0);
    await saveScreens(app, "dialog-field-error");
  });

  test("an empty host", async ({ app }) => {
    const dialog = await openNewSessionDialog(app, "connection");
    await fillFields(dialog, { Host: "", Port: "6379" });
    await dialog.getByRole("button", { name: "Connect" }).click();
    await expectFieldError(dialog, field(dialog, "Host"), /host/i);
    await expect(dialog).toBeVisible();
    await expect(sessionItems(app)).toHaveCount(0);
  });

  test("an unknown endpoint type", async ({ app }) => {
    const dialog = await openNewSessionDialog(app, "connection");
    await fillFields(dialog, { Endpoint: "bogus:host=127.0.0.1:port=6379" });
    await dialog.getByRole("button", { name: "Connect" }).click();
    await expectFieldError(dialog, field(dialog, "Endpoint"), /unknown endpoint type.*bogus/i);
    await expect(dialog).toBeVisible();
    await expect(sessionItems(app)).toHaveCount(0);
  });

  test("a listener on a port in use", async ({ app, peers }) => {
    const busy = await peers.holdPort();
    const dialog = await openNewSessionDialog(app, "listener");
    await fillFields(dialog, { Port: String(busy.port), Interface: "127.0.0.1" });
    await dialog.getByRole("button", { name: "Listen" }).click();
    await expectFieldError(dialog, field(dialog, "Port"), /in use|EADDRINUSE/i);
    await expect(dialog).toBeVisible();
    await expect(sessionItems(app)).toHaveCount(0);
  });

  test("Escape closes the dialog without doing anything", async ({ app }) => {
    const dialog = await openNewSessionDialog(app, "connection");
    await fillFields(dialog, { Host: "127.0.0.1", Port: "6379" });
    await app.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
    await expect(sessionItems(app)).toHaveCount(0);
  });
});

test("odd hex in the send box is explained and not sent", async ({ app, echo }) => {
  await connectClient(app, echo.port);

  await send(app, "abc", { format: "Hex" });
  await expect(sendBox(app).getByRole("alert")).toContainText(/hex/i);
  // Then a valid send: it is the only chunk that went out, so "abc" never did.
  await send(app, "41 42", { format: "Hex" });
  await expect(timelineRows(app, "←", "AB")).toHaveCount(1);
  // Only outgoing chunks shown (the filters): one.
  const traffic = trafficView(app);
  for (const name of ["Incoming", "Lifecycle", "Decoded"]) await traffic.getByRole("checkbox", { name }).uncheck();
  await expect(timelineRows(app, "←")).toHaveCount(0);
  await expect(timelineRows(app, "→")).toHaveCount(1);
});
