/** A proxy in front of redis-server, with the RESP tap template decoding what passes. */
import {
  chooseOption,
  expect,
  fillFields,
  freePort,
  openNewSessionDialog,
  openTab,
  saveScreens,
  selectItem,
  sessionItem,
  test,
  timelineRows,
} from "./fixtures.ts";

/** A Redis command as a RESP2 array of bulk strings, as redis-cli sends it. */
function resp(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;
}

test("proxy to redis-server and watch the commands pass, decoded by the RESP protocol", async ({
  app,
  redis,
  peers,
}) => {
  const port = await freePort();
  const dialog = await openNewSessionDialog(app, "proxy");
  await fillFields(dialog, {
    Port: String(port),
    Interface: "127.0.0.1",
    "Upstream host": "127.0.0.1",
    "Upstream port": String(redis.port),
  });
  // One "Protocol" select, or one per leg if the dialog offers them: the tap goes on every leg offered.
  const protocolSelects = await dialog.getByRole("combobox", { name: /protocol/i }).all();
  expect(protocolSelects.length, "the dialog has a Protocol select").toBeGreaterThan(0);
  for (const select of protocolSelects) await chooseOption(select, /^Template: Redis \(RESP\) proxy tap$/);
  await dialog.getByRole("button", { name: "Start proxy" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/listening/i);

  // A client talks to redis-server through the proxy, and gets redis-server's answers.
  const client = await peers.lineClient(port);
  client.write(resp("SET", "greeting", "hello"));
  await client.waitForLine("+OK");
  client.write(resp("GET", "greeting"));
  await client.waitForLine("hello");

  await selectItem(session);
  await expect(timelineRows(app, "command SET greeting hello"), "the command, decoded").toHaveCount(1);
  await expect(timelineRows(app, "command GET greeting")).toHaveCount(1);
  // The dialog's Protocol runs on both legs (or each leg's select got the tap): the replies are decoded too.
  await expect(timelineRows(app, "reply OK"), "redis-server's reply, decoded").toHaveCount(1);
  await expect(timelineRows(app, "reply hello")).toHaveCount(1);
  // The bytes passed both ways as well: the client's command in, redis-server's answer in on the upstream leg.
  await expect(timelineRows(app, "←", "SET").first()).toBeVisible();
  await expect(timelineRows(app, "←", "+OK").first()).toBeVisible();

  await timelineRows(app, "command SET greeting hello").click();
  const decoded = await openTab(app, "Decoded");
  await expect(decoded, "the decoded message's fields").toContainText("SET greeting hello");
  await saveScreens(app, "proxy");
});
