/**
 * Captures in and out of the workbench: export a recorded session as pcapng (the file lands in the workspace and,
 * in browser mode, as a download; tshark reads back exactly the bytes that went over the wire), import it again
 * and open its conversation as a session, and a file that isn't a capture explained in the import dialog; a
 * recording still being written, reopened, follows what its session records next — also a real `wirescope wrap`'s,
 * until the wrap is killed, which the reopened session says.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { capturesDir } from "../../main/workspace/layout.ts";
import { ROOT } from "./browser-mode.ts";
import {
  actions,
  connectClient,
  connectionItem,
  expect,
  field,
  openImportDialog,
  saveScreens,
  selectItem,
  send,
  sessionItem,
  sendBox,
  sessionItems,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";
import { followTcpRaw, hasTshark } from "./tshark.ts";
import type { Page } from "@playwright/test";

/** The status bar's message (the last result or error). */
function status(page: Page) {
  return page.getByRole("contentinfo").getByRole("status");
}

/** Opens "Import capture…" from the sidebar and returns the dialog. */
test("export a client session as pcapng, read it back with tshark, import it and open its conversation", async ({
  app,
  echo,
}, testInfo) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`hello\r\n`);
  await send(app, String.raw`wirescope\n`);
  await expect(timelineRows(app, "←", "wirescope")).toHaveCount(1);

  const download = app.waitForEvent("download");
  await actions(app).getByRole("button", { name: "Export as pcapng" }).click();
  const file = await download;
  await expect(status(app), "where the file was saved, in the workspace").toContainText(/exports\/.+\.pcapng/);
  const saved = testInfo.outputPath(file.suggestedFilename());
  await file.saveAs(saved);
  expect(file.suggestedFilename()).toMatch(/\.pcapng$/);
  expect(fs.statSync(saved).size, "the download holds the file").toBeGreaterThan(0);
  await saveScreens(app, "export-done");

  // One connection of it, from the connection's own actions: the same file, named for the connection.
  await selectItem(connectionItem(app, 1));
  const connectionDownload = app.waitForEvent("download");
  await actions(app).getByRole("button", { name: "Export as pcapng" }).click();
  await connectionDownload;
  await expect(status(app)).toContainText(/client 1, connection 1 as pcapng .* to .+\.pcapng/);

  if (hasTshark()) {
    const stream = await followTcpRaw(saved);
    expect(stream.fromNode0.toString("latin1"), "what the client sent, as tshark follows it").toBe(
      "hello\r\nwirescope\n",
    );
    expect(stream.fromNode1.toString("latin1"), "what the echo server answered").toBe("hello\r\nwirescope\n");
  } else {
    const reason = "tshark is not installed: apt-get install tshark";
    testInfo.annotations.push({ type: "skipped check", description: reason });
    // The list reporter doesn't print annotations: say it where the run's output shows it.
    console.warn(`interchange: the tshark check of the exported pcapng was skipped (${reason})`);
  }

  const dialog = await openImportDialog(app);
  await field(dialog, "Capture file").setInputFiles(saved);
  const conversations = dialog.getByRole("table", { name: "Conversations" });
  await expect(conversations.getByRole("row")).toHaveCount(2);
  await expect(conversations).toContainText(`127.0.0.1:${echo.port}`);
  await saveScreens(app, "import-dialog");
  await dialog.getByRole("button", { name: "Open conversation 1" }).click();
  await expect(dialog).toBeHidden();

  // The imported session is selected: its bytes in the timeline, where it came from, and nothing to send on.
  await expect(trafficView(app)).toContainText(file.suggestedFilename());
  await expect(timelineRows(app, "→", "hello")).toHaveCount(1);
  await expect(timelineRows(app, "←", "wirescope")).toHaveCount(1);
  await expect(sendBox(app)).toHaveCount(0);
  await expect(actions(app).getByRole("button", { name: "Abort" })).toHaveCount(0);
  await saveScreens(app, "imported-session");
});

test("a file that isn't a capture is explained in the import dialog, and nothing else changes", async ({
  app,
  echo,
}) => {
  await connectClient(app, echo.port);
  const before = await sessionItems(app).count();

  const dialog = await openImportDialog(app);
  const input = field(dialog, "Capture file");
  await input.setInputFiles({
    name: "notes.pcapng",
    mimeType: "application/octet-stream",
    buffer: Buffer.from("hello, not a capture\n"),
  });
  await expect(input).toHaveAttribute("aria-invalid", "true");
  await expect(input, "the engine's message, next to the field").toHaveAccessibleDescription(/pcap|capture/i);
  await expect(dialog.getByRole("table", { name: "Conversations" })).toHaveCount(0);
  await saveScreens(app, "import-bad-file");

  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toBeHidden();
  await expect(sessionItems(app), "no session was added or lost").toHaveCount(before);
});

test("reopen a Wirescope recording by its name in the captures folder; a wrong name is explained", async ({
  app,
  echo,
  wirescope,
}) => {
  await connectClient(app, echo.port);
  await send(app, String.raw`recorded\n`);
  await expect(timelineRows(app, "←", "recorded")).toHaveCount(1);
  // What the user sees in the workspace's captures folder: one recording per session.
  const recordings = fs.readdirSync(capturesDir(wirescope.workspace)).filter((f) => f.endsWith(".wscap"));
  expect(recordings).toHaveLength(1);

  const dialog = await openImportDialog(app);
  const input = field(dialog, "Recording file");
  await input.fill("no-such-recording.wscap");
  await dialog.getByRole("button", { name: "Open recording" }).click();
  await expect(input).toHaveAttribute("aria-invalid", "true");
  await expect(input).toHaveAccessibleDescription(/no-such-recording/);

  await input.fill(recordings[0]!);
  await dialog.getByRole("button", { name: "Open recording" }).click();
  await expect(dialog).toBeHidden();
  await expect(timelineRows(app, "→", "recorded")).toHaveCount(1);
  await expect(sendBox(app)).toHaveCount(0);
});

test("a recording still being written is followed: what its session records next appears in the reopened one", async ({
  app,
  echo,
  wirescope,
}) => {
  const client = await connectClient(app, echo.port);
  await send(app, String.raw`before\n`);
  await expect(timelineRows(app, "←", "before")).toHaveCount(1);
  const [recording] = fs.readdirSync(capturesDir(wirescope.workspace)).filter((f) => f.endsWith(".wscap"));
  // The recorder writes within its flush interval: open the file once both "before" events are in it, so that
  // what it gains next is only what the session records after the open.
  const holdsBefore = () =>
    fs
      .readFileSync(`${capturesDir(wirescope.workspace)}/${recording!}`)
      .toString("latin1")
      .split("before\n").length - 1;
  await expect.poll(holdsBefore, { message: "the sent and echoed 'before' in the file" }).toBe(2);

  const dialog = await openImportDialog(app);
  await field(dialog, "Recording file").fill(recording!);
  await dialog.getByRole("button", { name: "Open recording" }).click();
  await expect(dialog).toBeHidden();
  await expect(timelineRows(app, "→", "before")).toHaveCount(1);
  await expect(trafficView(app).getByText("following, live"), "not before it grew").toHaveCount(0);

  // The client session, still running, writes on into the recording the workbench reopened.
  await selectItem(client);
  await send(app, String.raw`after\n`);
  await expect(timelineRows(app, "←", "after")).toHaveCount(1);
  await selectItem(sessionItem(app, recording!));
  await expect(timelineRows(app, "→", "after")).toHaveCount(1);
  await expect(timelineRows(app, "←", "after")).toHaveCount(1);
  await expect(trafficView(app).getByText("following, live")).toBeVisible();
  await saveScreens(app, "recording-followed");
});

test("a running wirescope wrap is followed live; killed, its reopened session stops following and says why", async ({
  app,
  wirescope,
}) => {
  test.setTimeout(120_000);
  const wrap = spawn(
    process.execPath,
    [path.join(ROOT, "bin", "wirescope.js"), "wrap", "--name", "tapped", "--", "cat"],
    {
      cwd: ROOT,
      env: { ...process.env, WIRESCOPE_WORKSPACE: wirescope.workspace },
      stdio: ["pipe", "pipe", "ignore"],
    },
  );
  try {
    let echoed = "";
    wrap.stdout.setEncoding("utf8").on("data", (s: string) => (echoed += s));
    wrap.stdin.write("first\n");
    // The first answer waits for the CLI to start (tsx compiles it), which is slow on a loaded machine.
    await expect.poll(() => echoed, { message: "cat's answer through wrap", timeout: 45_000 }).toBe("first\n");
    const [recording] = fs.readdirSync(capturesDir(wirescope.workspace)).filter((f) => f.endsWith(".wscap"));

    const dialog = await openImportDialog(app);
    await field(dialog, "Recording file").fill(recording!);
    await dialog.getByRole("button", { name: "Open recording" }).click();
    await expect(dialog).toBeHidden();
    await expect(timelineRows(app, "→ stdin", "first")).toHaveCount(1);

    wrap.stdin.write("second\n");
    await expect(timelineRows(app, "← stdout", "second"), "what the program and cat say next, live").toHaveCount(1);
    await expect(trafficView(app).getByText("following, live")).toBeVisible();

    wrap.kill("SIGKILL");
    const gone = `its writer (process ${wrap.pid}) is no longer running`;
    await expect(timelineRows(app, "error", gone), "the timeline says why it stopped").toHaveCount(1);
    await expect(trafficView(app).getByText("following, live")).toHaveCount(0);
    await expect(sessionItem(app, "tapped")).toHaveAttribute(
      "title",
      new RegExp(`^Following the capture stopped: ${gone.replace(/[()]/g, "\\$&")}`),
    );
  } finally {
    wrap.kill("SIGKILL");
  }
});
