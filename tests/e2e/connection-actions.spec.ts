/** Acting on a connection from the sidebar: half-close, reconnect, abort; stopping a listener; a refused connect. */
import {
  connectClient,
  connectionItem,
  expect,
  fillFields,
  freePort,
  isFree,
  openNewSessionDialog,
  saveScreens,
  selectItem,
  sessionItem,
  sidebar,
  test,
  timelineRows,
} from "./fixtures.ts";

test("half-close, reconnect and abort a client's connection", async ({ app, echo }) => {
  await connectClient(app, echo.port);
  const side = sidebar(app);

  // Our FIN: the echo server answers with its own, and the connection ends.
  await side.getByRole("button", { name: "Half-close" }).click();
  await expect(timelineRows(app, /write.closed/i)).toHaveCount(1);
  await expect(connectionItem(app, 1)).toHaveAccessibleName(/\bclosed\b/i);

  await side.getByRole("button", { name: "Reconnect" }).click();
  await expect(connectionItem(app, 2), "a new connection on the same session").toHaveAccessibleName(/\bconnected\b/i);
  await expect(timelineRows(app, /write.closed/i), "on the same timeline").toHaveCount(1);

  await side.getByRole("button", { name: "Abort" }).click();
  await expect(connectionItem(app, 2)).toHaveAccessibleName(/\bclosed\b/i);
});

test("stopping a listener closes its connections and frees its port", async ({ app, peers }) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "listener");
  await fillFields(dialog, { Port: String(port), Interface: "127.0.0.1" });
  await dialog.getByRole("button", { name: "Listen" }).click();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/listening/i);
  const client = await peers.lineClient(port);
  await expect(connectionItem(app, 1)).toHaveAccessibleName(/\bconnected\b/i);

  await selectItem(session);
  await sidebar(app).getByRole("button", { name: "Stop" }).click();
  await client.closed;
  await expect(connectionItem(app, 1)).toHaveAccessibleName(/\bclosed\b/i);
  await expect(session).toContainText(/closed/i);
  expect(await isFree(port), "the port can be bound again").toBe(true);
});

test("a refused connection says why", async ({ app }) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "connection");
  await fillFields(dialog, { Host: "127.0.0.1", Port: String(port) });
  await dialog.getByRole("button", { name: "Connect" }).click();
  await expect(app.getByText(/refused/i).first(), "why it failed, in words").toBeVisible();
  await saveScreens(app, "connection-refused");
});
