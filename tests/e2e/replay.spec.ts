/**
 * Replaying a recorded conversation's client side to redis-server and seeing, exchange by exchange, which answers
 * are the same as recorded and where the first one differs.
 */
import type { Page } from "@playwright/test";
import {
  actions,
  connectClient,
  expect,
  expectFieldError,
  field,
  saveScreens,
  send,
  test,
  timelineRows,
} from "./fixtures.ts";

/** The replay view (`<section aria-label="Replay">`). */
function replayView(page: Page) {
  return page.getByRole("region", { name: "Replay" });
}

test("replay the client side to redis-server: the same answers, and the first difference highlighted", async ({
  app,
  redis,
}) => {
  await connectClient(app, redis.port);
  await send(app, String.raw`PING\r\n`);
  await expect(timelineRows(app, "←", "+PONG")).toHaveCount(1);
  await send(app, String.raw`INCR visits\r\n`);
  await expect(timelineRows(app, "←", ":1")).toHaveCount(1);

  await actions(app).getByRole("button", { name: "Replay…" }).click();
  const dialog = app.getByRole("dialog", { name: "Replay" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("radio", { name: "Send the client side to a server" })).toBeChecked();
  // The recorded server is filled in; a wrong port is said next to Port, and nothing is sent.
  await expect(field(dialog, "Port")).toHaveValue(String(redis.port));
  await field(dialog, "Port").fill("70000");
  await dialog.getByRole("button", { name: "Replay" }).click();
  await expectFieldError(dialog, field(dialog, "Port"), /65535/);
  await field(dialog, "Port").fill(String(redis.port));
  await dialog.getByRole("button", { name: "Replay" }).click();
  await expect(dialog).toBeHidden();

  // PING answers +PONG as recorded; INCR answers :2 where the recording has :1.
  const view = replayView(app);
  await expect(view.getByRole("status")).toHaveText("1 the same, 1 different");
  const exchanges = view.getByRole("list", { name: "Exchanges" }).getByRole("listitem");
  await expect(exchanges).toHaveCount(2);
  await expect(exchanges.nth(0)).toHaveAccessibleName(/Exchange 1, the same/);
  await expect(exchanges.nth(1)).toHaveAccessibleName(/Exchange 2, different from byte 1/);
  const marks = exchanges.nth(1).locator("mark");
  await expect(marks, "the first difference, highlighted in both answers").toHaveText(["1", "2"]);
  await saveScreens(app, "replay-text");

  await view.getByRole("combobox", { name: "Show as" }).selectOption({ label: "Hex" });
  await expect(marks).toHaveText(["31", "32"]);
  await view.getByRole("checkbox", { name: "Only differences" }).check();
  await expect(exchanges).toHaveCount(1);
  await saveScreens(app, "replay-hex");
});

test("replay the server side on a new listener: a client that connects gets the recorded answers", async ({
  app,
  echo,
  peers,
}) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`ping\n`);
  await expect(timelineRows(app, "←", "ping")).toHaveCount(1);

  await actions(app).getByRole("button", { name: "Replay…" }).click();
  const dialog = app.getByRole("dialog", { name: "Replay" });
  await dialog.getByRole("radio", { name: "Play the server side on a new listener" }).check();
  await expect(field(dialog, "Port"), "any free port unless the user says otherwise").toHaveValue("0");
  await dialog.getByRole("button", { name: "Replay" }).click();
  await expect(dialog).toBeHidden();

  // The view says where to connect; a client that does and sends what the recorded client sent gets the answer.
  const view = replayView(app);
  const waiting = view.getByText(/Waiting for a client: connect it to 127\.0\.0\.1:\d+/);
  await expect(waiting).toBeVisible();
  const port = Number(/:(\d+)\./.exec(await waiting.innerText())![1]);
  const client = await peers.lineClient(port);
  client.write("ping\n");
  await client.waitForLine("ping");
  await expect(view.getByRole("status")).toHaveText(/^1 the same, 0 different/);
});
