/**
 * Decoded messages in the workbench: a message's fields as a tree beside its bytes (a field's bytes highlighted
 * across chunk boundaries; a byte clicked selects its field, in the message or in a chunk), the Messages view
 * keeping the selection, the filter box over a capture longer than the old 100,000-event window, a wrong expression
 * explained, and the I/O graph of a live session.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Locator } from "@playwright/test";
import { Recorder } from "../../main/recording/recorder.ts";
import { capturesDir } from "../../main/workspace/layout.ts";
import { connectWithCommands } from "./commands-protocol.ts";
import {
  expect,
  field,
  openImportDialog,
  openTab,
  saveScreens,
  send,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

/** The hex column's highlighted bytes in `region`, joined: "67 72 65". */
async function highlighted(region: Locator): Promise<string> {
  return (await region.locator(".hex mark").allTextContents()).join(" ");
}

const hexOf = (text: string) =>
  Array.from(Buffer.from(text, "latin1"), (b) => b.toString(16).padStart(2, "0")).join(" ");

test("a decoded message's fields as a tree: a field's bytes highlighted across chunks, a byte selecting its field", async ({
  app,
  echo,
  wirescope,
}) => {
  await connectWithCommands(app, wirescope.workspace, echo.port);
  // Two writes, each echoed before the next: the message comes back in two chunks, split inside "greeting".
  await send(app, "SET gree");
  await expect(timelineRows(app, "←", "SET gree")).toHaveCount(1);
  await send(app, String.raw`ting hello\r\n`);
  const message = timelineRows(app, "SET greeting");
  await expect(message, "the decoded message's row").toHaveCount(1);

  await message.click();
  const panel = await openTab(app, "Decoded");
  const tree = panel.getByRole("tree", { name: "Fields" });
  await expect(tree.getByRole("treeitem")).toHaveCount(3);
  const bytes = panel.getByRole("region", { name: "Message bytes" });
  await expect(panel).toContainText("from 2 chunks");

  // Click a field: exactly its bytes are highlighted, across the chunk boundary.
  await tree.getByRole("treeitem", { name: /^key/ }).click();
  await expect.poll(() => highlighted(bytes), { message: "the bytes of 'greeting'" }).toBe(hexOf("greeting"));
  // The keys of a tree: down to "value", and its bytes.
  await app.keyboard.press("ArrowDown");
  await expect(tree.getByRole("treeitem", { name: /^value/ })).toHaveAttribute("aria-selected", "true");
  await expect.poll(() => highlighted(bytes)).toBe(hexOf("hello"));
  await saveScreens(app, "message-fields");

  // Click a byte of the message: the field holding it is selected.
  await bytes.locator('.hex [data-i="0"]').click();
  await expect(tree.getByRole("treeitem", { name: /^command/ })).toHaveAttribute("aria-selected", "true");
  await expect.poll(() => highlighted(bytes)).toBe(hexOf("SET"));

  // Click a byte of a chunk: the message holding it is selected, with that byte's field.
  await timelineRows(app, "←", "SET gree").click();
  const hex = await openTab(app, "Hex");
  await hex.getByRole("region", { name: "Hex dump" }).locator('.hex [data-i="5"]').click();
  await expect(trafficView(app).getByRole("tab", { name: "Decoded" })).toHaveAttribute("aria-selected", "true");
  await expect(message).toHaveAttribute("aria-selected", "true");
  await expect(tree.getByRole("treeitem", { name: /^key/ })).toHaveAttribute("aria-selected", "true");
});

test("the Messages view shows one row per decoded message and keeps the selection", async ({
  app,
  echo,
  wirescope,
}) => {
  await connectWithCommands(app, wirescope.workspace, echo.port);
  await send(app, String.raw`SET a 1\r\nGET a\r\n`);
  await expect(timelineRows(app, "info", "GET a"), "the decoded message").toHaveCount(1);

  const chunk = timelineRows(app, "←", "SET a 1");
  await chunk.click();
  await trafficView(app).getByRole("switch", { name: "Messages" }).click();
  const grid = trafficView(app).getByRole("grid", { name: "Timeline" });
  await expect(grid.getByRole("columnheader", { name: "Latency" })).toBeVisible();
  const setRow = timelineRows(app, "SET a");
  await expect(setRow, "the message covering the chunk's first byte").toHaveAttribute("aria-selected", "true");
  await expect(timelineRows(app, "←")).toHaveCount(2);
  await expect(setRow.getByRole("gridcell").nth(4), "its size: the bytes of its line").toHaveText("9");
  await saveScreens(app, "messages-view");

  await trafficView(app).getByRole("switch", { name: "Messages" }).click();
  await expect(chunk, "back to the chunk holding its first byte").toHaveAttribute("aria-selected", "true");
});

test("a filter finds events at the start of a capture longer than 100,000 events; a wrong one is explained", async ({
  app,
  wirescope,
}) => {
  test.setTimeout(120_000);
  const file = path.join(capturesDir(wirescope.workspace), "long.wscap");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const recorder = await Recorder.create(file, { kind: "client", name: "long" });
  recorder.append({ kind: "data", t: 1, conn: 1, dir: "out", data: Buffer.from("needle at the start\n") });
  for (let i = 1; i < 120_000; i++) {
    recorder.append({ kind: "data", t: 1 + i, conn: 1, dir: i % 2 ? "in" : "out", data: Buffer.from(`hay ${i}\n`) });
  }
  await recorder.close();

  const dialog = await openImportDialog(app);
  await field(dialog, "Recording file").fill("long.wscap");
  await dialog.getByRole("button", { name: "Open recording" }).click();
  await expect(dialog).toBeHidden();

  const search = trafficView(app).getByRole("searchbox", { name: "Search" });
  await search.fill("needle");
  await expect(timelineRows(app, "needle at the start"), "the capture's first event").toHaveCount(1);
  await expect(
    trafficView(app)
      .getByRole("status")
      .filter({ hasText: /1 match/ }),
  ).toContainText(/in all 120,00\d events/);
  await search.fill("out && size > 15");
  await expect(trafficView(app).getByRole("status").filter({ hasText: /match/ })).toHaveText(
    /^1 match in all 120,00\d events\.$/,
  );

  await search.fill("size >");
  await expect(search).toHaveAttribute("aria-invalid", "true");
  await expect(search).toHaveAccessibleDescription(/column 7: expected a value after '>'/);
  await saveScreens(app, "filter-error");
});

test("the I/O graph of a live session: bytes and messages per second, drawn as they grow", async ({
  app,
  echo,
  wirescope,
}) => {
  await connectWithCommands(app, wirescope.workspace, echo.port);
  await send(app, String.raw`SET k v\r\n`);
  await expect(timelineRows(app, "info", "SET k"), "the decoded message").toHaveCount(1);
  const panel = await openTab(app, "I/O graph");
  await expect(panel.getByRole("img", { name: /^Bytes per second/ })).toBeVisible();
  await expect(panel).toContainText("← 9 B, 1 messages");
  await send(app, String.raw`SET k2 v2\r\n`);
  await expect(panel, "redrawn as the session grows").toContainText("← 20 B, 2 messages");
  await saveScreens(app, "io-graph");

  // A click jumps to that time in the timeline: at the chart's right end, the last exchange.
  const chart = panel.getByRole("img", { name: /^Bytes per second/ });
  const box = (await chart.boundingBox())!;
  await app.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
  const grid = trafficView(app).getByRole("grid", { name: "Timeline" });
  await expect(grid.locator('[role="row"][aria-selected="true"]')).toContainText("SET k2");
  // A drag zooms to the range dragged across; "Whole capture" goes back.
  await app.mouse.move(box.x + box.width * 0.1, box.y + 20);
  await app.mouse.down();
  await app.mouse.move(box.x + box.width * 0.6, box.y + 20, { steps: 5 });
  await app.mouse.up();
  const whole = panel.getByRole("button", { name: "Whole capture" });
  await expect(whole).toBeVisible();
  await whole.click();
  await expect(whole).toHaveCount(0);
});
