/** A listener session: a test client connects to it; the connection appears with its bytes, and we answer it. */
import {
  connectionItem,
  expect,
  fillFields,
  freePort,
  openNewSessionDialog,
  saveScreens,
  selectItem,
  send,
  sessionItem,
  test,
  timelineRows,
} from "./fixtures.ts";

test("start a listener, connect to it from a test client, see the connection appear and its bytes", async ({
  app,
  peers,
}) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "listener");
  await fillFields(dialog, { Port: String(port), Interface: "127.0.0.1" });
  await dialog.getByRole("button", { name: "Listen" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/listening/i);
  await selectItem(session);
  await expect(
    app.getByRole("region", { name: "Traffic" }).getByRole("heading", { level: 2 }),
    "the listener's details say where it listens and its backlog",
  ).toContainText(`on 127.0.0.1:${port}, backlog 4096`);

  const client = await peers.lineClient(port);
  client.write("hello from the test client\n");
  const first = connectionItem(app, 1);
  await expect(first, "the accepted connection appears under its listener").toBeVisible();
  await expect(first, "its state (a coloured dot, named for screen readers)").toHaveAccessibleName(/\bconnected\b/i);
  await expect(first, "with the bytes it sent (27)").toContainText(/\b27\b/);

  await selectItem(first);
  await expect(timelineRows(app, "←", "hello from the test client")).toHaveCount(1);

  // We answer on this connection, from the send box; the client gets the line.
  await send(app, "welcome", { lineEnding: "LF" });
  await expect(timelineRows(app, "→", "welcome")).toHaveCount(1);
  await client.waitForLine("welcome");

  const second = await peers.lineClient(port);
  second.write("second\n");
  await expect(connectionItem(app, 2)).toBeVisible();
  await expect(connectionItem(app, 1), "the first stays as it was").toHaveAccessibleName(/\bconnected\b/i);
  await saveScreens(app, "listener");

  await second.close();
  await expect(connectionItem(app, 2), "a connection the client closed shows it").toHaveAccessibleName(/\bclosed\b/i);
  expect(client.lines, "the first client got exactly what we sent").toEqual(["welcome"]);
});
