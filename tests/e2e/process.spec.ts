/**
 * Process sessions in the workbench: a command run from the New process dialog (shown word by word before it runs),
 * its stdin written from the send box, its stdout and stderr on the timeline with their pipe, its state in the
 * heading, and the controls (Close stdin, signals, Restart); a protocol that throws or loops on one; its capture
 * exported (.wscap) and read back by `wirescope show`. Real programs: cat, bc, head, sh, wc.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Locator, Page } from "@playwright/test";
import { ROOT } from "./browser-mode.ts";
import {
  actions,
  colourOf,
  expect,
  expectFieldError,
  field,
  openNewSessionDialog,
  openTab,
  selectItem,
  send,
  sendBox,
  sessionItem,
  sessionItems,
  test,
  timelineRows,
  trafficView,
} from "./fixtures.ts";

/** The page's own object, read by `evaluate` (Chromium's non-standard heap figures). */
declare const performance: { memory: { usedJSHeapSize: number } };

/**
 * A figure of /proc/<pid>/status in bytes: "VmRSS" (resident now) or "VmHWM" (the most it ever was resident).
 */
function memoryOf(pid: number, figure: "VmRSS" | "VmHWM"): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kB = new RegExp(`^${figure}:\\s+(\\d+) kB$`, "m").exec(status)?.[1];
  if (kB === undefined) throw new Error(`no ${figure} in /proc/${pid}/status`);
  return Number(kB) * 1024;
}

/** `wirescope show --json <file>` run as a user would, from this checkout: its JSON lines. */
async function showJson(file: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, "bin", "wirescope.js"), "show", "--json", file],
    {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * How much two more runs of 100 MB through a process session may raise the engine's peak resident memory: what the
 * first run needed (the capture's in-memory window, the Recorder's WINDOW_BYTES, 32 MiB; the capture thread's and
 * the WebSocket's buffers; the garbage collector's lag) is there already: the two runs added 8-27 MB here. An
 * engine that kept every byte would add the 200 MB.
 */
const ENGINE_PEAK_ADDED_MAX = 100 * 1024 * 1024;

/** The traffic view's heading: the command, its pid and the child's state. */
function heading(page: Page): Locator {
  return trafficView(page).getByRole("heading", { level: 2 });
}

/** The controls above a process's timeline. */
function control(page: Page, name: string): Locator {
  return trafficView(page).getByRole("toolbar", { name: "Process controls" }).getByRole("button", { name });
}

/**
 * Runs `command` from the New process dialog, after checking it is shown as the words `argv`, and selects the new
 * session.
 */
async function run(page: Page, command: string, argv: string[]): Promise<void> {
  const dialog = await openNewSessionDialog(page, "process");
  await field(dialog, "Command line").fill(command);
  await expect(dialog.getByRole("list", { name: "Parsed command" }).getByRole("listitem")).toHaveText(argv);
  await dialog.getByRole("button", { name: "Run" }).click();
  await expect(dialog).toBeHidden();
  await selectItem(sessionItem(page, argv[0]!));
}

test("cat: what is sent comes back on stdout; closing stdin ends it with exit code 0", async ({ app }) => {
  await run(app, "cat", ["cat"]);
  await expect(heading(app)).toContainText("running");
  await expect(heading(app)).toContainText(/pid \d+/);

  await send(app, "hello", { lineEnding: "LF" });
  await expect(timelineRows(app, "→ stdin", "hello")).toHaveCount(1);
  await expect(timelineRows(app, "← stdout", "hello"), "cat wrote it back").toHaveCount(1);

  await control(app, "Close stdin").click();
  await expect(heading(app)).toContainText("exited with code 0");
  await expect(heading(app), "no pid once it exited").not.toContainText(/pid \d+/);
  await expect(timelineRows(app, "fd-closed", "stdin")).toHaveCount(1);
  await expect(timelineRows(app, "exited", "exit code 0")).toHaveCount(1);
  await expect(timelineRows(app, "ended")).toHaveCount(1);
  await expect(control(app, "SIGTERM"), "nothing left to signal").toBeDisabled();
});

test("bc: 2+3 gives 5", async ({ app }) => {
  await run(app, "bc -q", ["bc", "-q"]);
  await send(app, "2+3", { lineEnding: "LF" });
  await expect(timelineRows(app, "← stdout", "5·")).toHaveCount(1);
  await send(app, "quit", { lineEnding: "LF" });
  await expect(heading(app)).toContainText("exited with code 0");
});

test("a protocol chosen in the dialog drives the child: the bc template asks, and logs each answer", async ({
  app,
}) => {
  const dialog = await openNewSessionDialog(app, "process");
  await field(dialog, "Command line").fill("bc -q");
  await field(dialog, "Protocol").selectOption({ label: "Template: Process driver (bc)" });
  await dialog.getByRole("button", { name: "Run" }).click();
  await expect(dialog).toBeHidden();
  await selectItem(sessionItem(app, "bc"));
  // The timeline follows its end: the template's last question and answer are in view.
  await expect(timelineRows(app, "→ stdin", "sqrt(144)")).toHaveCount(1);
  await expect(timelineRows(app, "info", "sqrt(144) = 12")).toHaveCount(1);
  await expect(heading(app), "the template closes stdin after its last question").toContainText("exited with code 0");
});

test("100 MB on stdout: every byte counted, the view keeps up, the engine's and the page's memory bounded", async ({
  app,
  wirescope,
}) => {
  test.setTimeout(300_000);
  const bytes = 100_000_000;
  await run(app, `head -c ${bytes} /dev/zero`, ["head", "-c", String(bytes), "/dev/zero"]);
  const grid = trafficView(app).getByRole("grid", { name: "Timeline" });
  // Responsive while the bytes pour in: a filter toggles at once.
  const incoming = trafficView(app).getByRole("checkbox", { name: "Incoming" });
  await incoming.uncheck();
  await expect(incoming).not.toBeChecked();
  await incoming.check();
  await expect(heading(app)).toContainText("exited with code 0", { timeout: 150_000 });
  await expect(timelineRows(app, "ended")).toHaveCount(1);
  // Pipes carry at most 64 KiB a read: 100 MB is at least 1,526 chunks, every one a row of the timeline.
  await expect
    .poll(async () => Number(await grid.getAttribute("aria-rowcount")), { message: "every chunk is a row" })
    .toBeGreaterThan(Math.ceil(bytes / 65_536));
  await expect(sessionItem(app, "head")).toHaveAccessibleName(/\b95 MiB in\b/);

  // The engine's memory is bounded: twice 100 MB more through the same session raise its peak by much less. (The
  // Conversation tab is opened only after: showing a 100 MB conversation while more pours in stalls the page.)
  const peak = memoryOf(wirescope.pid, "VmHWM");
  for (const total of [191, 286]) {
    await control(app, "Restart").click();
    await expect(sessionItem(app, "head"), `${total} MiB counted`).toHaveAccessibleName(
      new RegExp(`\\b${total} MiB in\\b`),
      { timeout: 150_000 },
    );
    await expect(heading(app)).toContainText("exited with code 0");
  }
  const added = memoryOf(wirescope.pid, "VmHWM") - peak;
  expect(added, "200 MB more raised the engine's peak by less than 100 MB").toBeLessThan(ENGINE_PEAK_ADDED_MAX);
  const heap = await app.evaluate(() => performance.memory.usedJSHeapSize);
  expect(heap, "the workbench holds the rows it shows, not the 300 MB").toBeLessThan(64 * 1024 * 1024);
  // Every byte counted, to the byte: the conversation's summary of the latest child's connection.
  await timelineRows(app, "ended").click();
  await openTab(app, "Conversation");
  await expect(trafficView(app).getByText("← 100,000,000 B"), "every byte counted").toBeVisible();
});

test("a command that exits non-zero: its stderr stands out, its state says the code", async ({ app }) => {
  await run(app, `sh -c 'echo fine; echo oops >&2; exit 3'`, ["sh", "-c", "echo fine; echo oops >&2; exit 3"]);
  await expect(heading(app)).toContainText("exited with code 3");
  const stderr = timelineRows(app, "← stderr", "oops");
  const stdout = timelineRows(app, "← stdout", "fine");
  await expect(stderr).toHaveCount(1);
  await expect(stdout).toHaveCount(1);
  const dir = (row: Locator) => row.getByRole("gridcell").nth(2);
  expect(await colourOf(dir(stderr)), "stderr is not coloured as stdout").not.toBe(await colourOf(dir(stdout)));
  await expect(timelineRows(app, "exited", "exit code 3")).toHaveCount(1);

  // pcapng has no place for pipes: the export says so, and where the capture is instead.
  await actions(app).getByRole("button", { name: "Export as pcapng" }).click();
  const status = app.getByRole("contentinfo");
  await expect(status).toContainText("pcapng has no place for a process's pipes");
  await expect(status).toContainText(/wirescope show --json \S+\.wscap/);

  // The capture itself is offered instead: downloaded, it reads back with `wirescope show`.
  const download = app.waitForEvent("download");
  await actions(app).getByRole("button", { name: "Export capture (.wscap)" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe("sh.wscap");
  const saved = test.info().outputPath("sh.wscap");
  await file.saveAs(saved);
  await expect(status).toContainText(/Exported the capture of sh \(\d+ events, .+\) to \S+sh\.wscap/);
  const shown = await showJson(saved);
  const data = shown.filter((e) => e.kind === "data");
  const text = (e: Record<string, unknown>) => Buffer.from(String(e.base64), "base64").toString();
  // The two pipes are read side by side: either may come first.
  expect(data.map((e) => [e.fd, e.dir, text(e)]).sort()).toEqual([
    [1, "in", "fine\n"],
    [2, "in", "oops\n"],
  ]);
  expect(shown).toContainEqual(expect.objectContaining({ kind: "lifecycle", event: "exited", detail: "exit code 3" }));

  // Decode and Replay work on TCP connections: on a process they say why not.
  for (const name of ["Decode with protocol…", "Replay…"]) {
    const button = actions(app).getByRole("button", { name });
    await expect(button).toBeDisabled();
    await expect(button).toHaveAttribute("title", /not on a process's pipes/);
  }
});

test("a program that doesn't read its stdin yet: what is sent waits, none of it lost", async ({ app }) => {
  // sh reads nothing until SIGINT; then wc counts what reached its stdin.
  await run(app, `sh -c 'trap "exec wc -c" INT; while :; do sleep 0.1; done'`, [
    "sh",
    "-c",
    'trap "exec wc -c" INT; while :; do sleep 0.1; done',
  ]);
  await expect(heading(app)).toContainText("running");
  // 1 MiB, far more than a pipe holds (64 KiB): the rest waits in the engine.
  const bytes = 1024 * 1024;
  const form = sendBox(app);
  await form.getByRole("combobox", { name: "Format" }).selectOption({ label: "File" });
  await form
    .getByRole("button", { name: "File", exact: true })
    .setInputFiles({ name: "mebibyte.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(bytes, 0x61) });
  await form.getByRole("button", { name: "Send" }).click();
  await expect(timelineRows(app, "paused", "not reading its stdin"), "the stall is shown").toHaveCount(1);
  await expect(heading(app), "the child is not blocked by it").toContainText("running");

  await control(app, "SIGINT").click();
  await expect(timelineRows(app, "resumed"), "it reads again").toHaveCount(1);
  await control(app, "Close stdin").click();
  await expect(timelineRows(app, "← stdout", String(bytes)), "wc counted every byte sent").toHaveCount(1);
  await expect(heading(app)).toContainText("exited with code 0");
});

/** Writes the protocol `file` into the workspace, runs `cat` with it, and selects the session. */
async function catWith(app: Page, workspace: string, file: string, source: string): Promise<void> {
  fs.writeFileSync(path.join(workspace, file), source);
  const dialog = await openNewSessionDialog(app, "process");
  await field(dialog, "Command line").fill("cat");
  // The workspace's watcher lists the new file.
  await expect(field(dialog, "Protocol").getByRole("option", { name: file, exact: true })).toHaveCount(1);
  await field(dialog, "Protocol").selectOption({ label: file });
  await dialog.getByRole("button", { name: "Run" }).click();
  await expect(dialog).toBeHidden();
  await selectItem(sessionItem(app, "cat"));
}

for (const [fault, body, why] of [
  ["throws", `throw new Error("boom in outReceived");`, /boom in outReceived/],
  ["loops", `for (;;) {}`, /infinite loop/],
] as const) {
  test(`a protocol that ${fault} on a process is halted, saying why; the child runs on`, async ({ app, wirescope }) => {
    await catWith(
      app,
      wirescope.workspace,
      `${fault}.ts`,
      `import { ProcessProtocol, type Bytes } from "wirescope";
export default class Faulty extends ProcessProtocol {
  override outReceived(data: Bytes): void {
    if (Buffer.from(data).includes("trigger")) { ${body} }
  }
}
`,
    );
    await expect(heading(app)).toContainText("running");
    await send(app, "trigger", { lineEnding: "LF" });
    await expect(timelineRows(app, "protocol-halted", why)).toHaveCount(1, { timeout: 15_000 });
    await expect(heading(app), "the child lives on").toContainText("running");
    await send(app, "after", { lineEnding: "LF" });
    await expect(timelineRows(app, "← stdout", "after"), "and is still recorded").toHaveCount(1);
    await control(app, "Close stdin").click();
    await expect(heading(app)).toContainText("exited with code 0");
  });
}

test("SIGKILL from its button kills it; Restart runs it again", async ({ app }) => {
  await run(app, "cat", ["cat"]);
  await expect(heading(app)).toContainText("running");
  await control(app, "SIGKILL").click();
  await expect(heading(app)).toContainText("killed by SIGKILL");
  await expect(timelineRows(app, "exited", "SIGKILL")).toHaveCount(1);

  await control(app, "Restart").click();
  await expect(heading(app)).toContainText("running");
  await expect(timelineRows(app, "spawned"), "a second child on the same timeline").toHaveCount(2);
  await send(app, "again", { lineEnding: "LF" });
  await expect(timelineRows(app, "← stdout", "again")).toHaveCount(1);
  await control(app, "SIGTERM").click();
  await expect(heading(app)).toContainText("killed by SIGTERM");
});

test("a command that doesn't exist: the error under the field, no session left behind", async ({ app }) => {
  const dialog = await openNewSessionDialog(app, "process");
  const command = field(dialog, "Command line");
  await command.fill("echo 'unclosed");
  await expect(command, "the parse problem is said as it is typed").toHaveAccessibleDescription(/never closed/);
  await dialog.getByRole("button", { name: "Run" }).click();
  await expectFieldError(dialog, command, /single quote at character 6 is never closed/);

  await command.fill("no-such-program-wirescope --help");
  await dialog.getByRole("button", { name: "Run" }).click();
  await expectFieldError(dialog, command, /no-such-program-wirescope/);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(sessionItems(app)).toHaveCount(0);
});
