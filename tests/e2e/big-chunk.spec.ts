/**
 * A 64 KiB chunk: its row shows a preview without the page fetching the chunk, and selecting it shows and copies
 * all of its bytes.
 */
import {
  connectClient,
  expect,
  openTab,
  selectItem,
  send,
  sessionItem,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

/** The page's own clipboard, read by `evaluate` (this project's TypeScript has no DOM library). */
declare const navigator: { clipboard: { readText(): Promise<string> } };

const SIZE = 65_536;
const END = "THE-END";
/** Printable, with no escapes for the send box: a repeating alphabet, then END as its last bytes. */
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
const DATA = Array.from({ length: SIZE - END.length }, (_, i) => ALPHABET[i % ALPHABET.length]).join("") + END;

test("a 64 KiB chunk's row shows its preview; selected, all its bytes show in hex and text and copy whole", async ({
  app,
  peers,
}) => {
  const server = await peers.holdPort();
  await connectClient(app, server.port);
  await send(app, DATA);
  await expect(timelineRows(app, "→", String(SIZE))).toHaveCount(1);

  // A fresh page, its WebSocket counted from the start: showing the row must not bring the chunk along.
  let received = 0;
  app.on("websocket", (ws) =>
    ws.on("framereceived", ({ payload }) => {
      received += payload.length;
    }),
  );
  await app.reload();
  await selectItem(sessionItem(app, String(server.port)));
  const row = timelineRows(app, "→", String(SIZE));
  await expect(row, "the row's preview: the chunk's first bytes, and more to come").toContainText(
    `${ALPHABET}${ALPHABET}`,
  );
  await expect(row).toContainText("…");
  expect(received, "what the page received to show the timeline").toBeLessThan(SIZE);

  await row.click();
  const hex = await openTab(app, "Hex");
  await expect(trafficView(app), "the pane's summary").toContainText(`${SIZE.toLocaleString("en-US")} bytes`);
  const dump = hex.getByRole("region", { name: "Hex dump" });
  await dump.focus();
  await app.keyboard.press("End");
  const lastLine = DATA.slice(SIZE - 16);
  await expect(dump, "the hex dump's last line: the chunk's last 16 bytes").toContainText("0000fff0");
  await expect(dump).toContainText(lastLine);

  const text = (await openTab(app, "Text")).locator("pre");
  await expect(text).toContainText(END);
  await app.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await text.click({ clickCount: 3 });
  await app.keyboard.press("ControlOrMeta+C");
  // A triple click selects the paragraph with the line break that ends it.
  const copied = (await app.evaluate(() => navigator.clipboard.readText())).replace(/\n$/, "");
  expect(copied.length, "characters copied from the Text tab").toBe(SIZE);
  expect(copied).toBe(DATA);
});
