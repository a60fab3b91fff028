/** Decoding a recorded conversation with a protocol, offline: a raw redis-server session read by the RESP template. */
import {
  actions,
  chooseOption,
  connectClient,
  expect,
  field,
  saveScreens,
  send,
  sendBox,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

test("decode a recorded redis-server session with the RESP template, re-split, and see the decoded replies", async ({
  app,
  redis,
}) => {
  await connectClient(app, redis.port);
  // Inline commands (redis-server takes them as well as RESP arrays); recorded as raw bytes.
  await send(app, String.raw`SET greeting hello\r\n`);
  await expect(timelineRows(app, "←", "+OK")).toHaveCount(1);
  await send(app, String.raw`GET greeting\r\n`);
  await expect(timelineRows(app, "←", "hello")).toHaveCount(1);

  await actions(app).getByRole("button", { name: "Decode with protocol…" }).click();
  const dialog = app.getByRole("dialog", { name: "Decode with protocol" });
  await expect(dialog).toBeVisible();

  // Nothing chosen: said next to the field, nothing sent.
  await field(dialog, "Protocol").selectOption({ label: "Choose a protocol…" });
  await dialog.getByRole("button", { name: "Decode" }).click();
  await expect(field(dialog, "Protocol")).toHaveAttribute("aria-invalid", "true");
  await expect(field(dialog, "Protocol")).toHaveAccessibleDescription(/choose a protocol/i);

  await chooseOption(field(dialog, "Protocol"), /^Template: Redis \(RESP\) client$/);
  await dialog.getByRole("radio", { name: /^Client/ }).check();
  await dialog.getByRole("checkbox", { name: "Re-split the stream" }).check();
  await field(dialog, "Runs").fill("0");
  await dialog.getByRole("button", { name: "Decode" }).click();
  await expect(field(dialog, "Runs"), "runs out of range, said next to Runs").toHaveAccessibleDescription(/1/);
  await field(dialog, "Runs").fill("8");
  await field(dialog, "Seed").fill("42");
  await dialog.getByRole("button", { name: "Decode" }).click();

  const report = dialog.getByRole("region", { name: "Re-split report" });
  await expect(report, "the resplit report").toContainText(/consistent/i);
  await expect(report).toContainText("8 re-split runs");
  await saveScreens(app, "decode-report");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toBeHidden();

  // The decode session is selected: the server's replies, decoded; no send box (nothing to send on).
  await expect(trafficView(app)).toContainText(/decoded with resp\.ts/);
  await expect(timelineRows(app, "reply OK"), "redis-server's reply, decoded").toHaveCount(1);
  await expect(timelineRows(app, "reply hello")).toHaveCount(1);
  await expect(sendBox(app)).toHaveCount(0);
  await expect(trafficView(app)).toContainText(/no socket to send on/);
  await expect(actions(app).getByRole("button", { name: "Close" })).toHaveCount(0);
  await saveScreens(app, "decode-session");
});
