/** A client session to an echo server: sending text with escapes and hex, and reading it back in every view. */
import {
  colourOf,
  connectClient,
  expect,
  openTab,
  saveScreens,
  send,
  sendBox,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

test("connect to an echo server, send text with escapes and hex, see both directions in hex, text and conversation", async ({
  app,
  echo,
}) => {
  await connectClient(app, echo.port);
  await expect(trafficView(app)).toBeVisible();
  await expect(sendBox(app)).toBeVisible();

  // Typed as a user types it: backslash escapes, which the send box turns into bytes ("pingA<TAB>ok<CR><LF>").
  await send(app, String.raw`ping\x41\tok\r\n`);
  await expect(timelineRows(app, "→", "pingA"), "the chunk sent").toHaveCount(1);
  await expect(timelineRows(app, "←", "pingA"), "the echo received").toHaveCount(1);

  await send(app, "48 69 21 0a", { format: "Hex" });
  await expect(timelineRows(app, "→", "Hi!")).toHaveCount(1);
  await expect(timelineRows(app, "←", "Hi!")).toHaveCount(1);

  // The escapes became the bytes they stand for: \x41 = 41, \t = 09, \r\n = 0d 0a.
  await timelineRows(app, "→", "pingA").click();
  let panel = await openTab(app, "Hex");
  await expect(panel).toContainText(/70\s*69\s*6e\s*67\s*41\s*09\s*6f\s*6b\s*0d\s*0a/i);

  await timelineRows(app, "←", "Hi!").click();
  panel = await openTab(app, "Hex");
  await expect(panel, "hex of the received chunk").toContainText(/48\s*69\s*21\s*0a/i);
  await expect(panel, "its ASCII column").toContainText("Hi!");
  await saveScreens(app, "session-hex");

  panel = await openTab(app, "Text");
  await expect(panel).toContainText("Hi!");
  await expect(trafficView(app).getByRole("combobox", { name: "Encoding" })).toBeVisible();
  await saveScreens(app, "session-text");

  panel = await openTab(app, "Conversation");
  const sent = panel.locator(".dir-out");
  const received = panel.locator(".dir-in");
  await expect(sent.filter({ hasText: "pingA" }).first(), "what we sent, in its colour").toBeVisible();
  await expect(received.filter({ hasText: "pingA" }).first(), "what came back, in the other").toBeVisible();
  await expect(received.filter({ hasText: "Hi!" }).first()).toBeVisible();
  const [outColour, inColour] = [await colourOf(sent.first()), await colourOf(received.first())];
  expect(outColour, "each direction has its own colour").not.toBe(inColour);

  // Live: what is sent now appears in the open conversation without leaving it.
  await send(app, String.raw`live\n`);
  await expect(received.filter({ hasText: "live" }).first()).toBeVisible();
  await saveScreens(app, "session-conversation");
});

test("the send box sends with Ctrl+Enter and recalls history; Search filters by text and by hex", async ({
  app,
  echo,
}) => {
  await connectClient(app, echo.port);

  const box = sendBox(app).getByRole("textbox", { name: "Data to send" });
  await box.fill("alpha");
  await box.press("ControlOrMeta+Enter");
  await expect(timelineRows(app, "←", "alpha")).toHaveCount(1);
  await box.fill("bravo");
  await box.press("ControlOrMeta+Enter");
  await expect(timelineRows(app, "←", "bravo")).toHaveCount(1);

  await box.fill("");
  await box.press("ArrowUp");
  await expect(box, "ArrowUp brings back the last thing sent").toHaveValue("bravo");
  await box.press("ArrowUp");
  await expect(box).toHaveValue("alpha");
  await box.press("ArrowDown");
  await expect(box).toHaveValue("bravo");

  const traffic = trafficView(app);
  const search = traffic.getByRole("searchbox", { name: "Search" });
  await search.fill("bravo");
  await expect(timelineRows(app, "alpha"), "a text search hides what doesn't match").toHaveCount(0);
  await expect(timelineRows(app, "bravo")).toHaveCount(2);
  await search.fill("hex:61 6c 70");
  await expect(timelineRows(app, "bravo"), "a hex search ('alp')").toHaveCount(0);
  await expect(timelineRows(app, "alpha")).toHaveCount(2);
  await search.fill("");
  await expect(timelineRows(app, "bravo")).toHaveCount(2);

  // Relative times start at 0; absolute ones are wall-clock times of day.
  const firstTime = timelineRows(app, "→", "alpha").getByRole("gridcell").nth(1);
  const relative = await firstTime.innerText();
  const absolute = traffic.getByRole("checkbox", { name: "Absolute time" });
  await absolute.or(traffic.getByRole("switch", { name: "Absolute time" })).check();
  await expect(firstTime).not.toHaveText(relative);
  await expect(firstTime).toHaveText(/\d{2}:\d{2}:\d{2}/);
});
