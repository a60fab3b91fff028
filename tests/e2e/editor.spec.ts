/**
 * The protocol editor: a protocol made from the line template runs on a live connection; an edit saved with
 * Ctrl+S changes what that connection does without reconnecting; a compile error shows in Problems and the old code
 * keeps running.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  chooseOption,
  connectionItem,
  expect,
  field,
  fillFields,
  freePort,
  openNewSessionDialog,
  protocolEditor,
  protocolItem,
  replaceEditorText,
  saveScreens,
  sidebar,
  test,
} from "./fixtures.ts";
import type { LineClient } from "./peers.ts";

/** The line protocol, changed: it answers in capitals. */
const SHOUTING = `import { LineReceiver } from "wirescope";

export class Shout extends LineReceiver {
  override delimiter = Buffer.from("\\r\\n");

  override lineReceived(line: Buffer): void {
    this.sendLine(Buffer.from(\`YOU SAID: \${line.toString("utf8").toUpperCase()}\`, "utf8"));
  }
}

export default Shout;
`;

/** The same with a syntax error on line 7. */
const BROKEN = SHOUTING.replace("this.sendLine(Buffer.from(`YOU", "this.sendLine(Buffer.from(( `YOU");

/**
 * Sends lines on the live connection until one is answered by the code that answers with `prefix` (the reload lands
 * a moment after the file is saved); each line gets one answer, from the old code or the new.
 */
async function answeredBy(client: LineClient, prefix: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let n = 1; ; n += 1) {
    client.write(`line ${n}\r\n`);
    const answer = await client.waitForLine(new RegExp(`: line ${n}$`, "i"));
    if (answer === `${prefix}: LINE ${n}`) return;
    if (Date.now() > deadline) throw new Error(`still answered "${answer}" ${timeoutMs} ms after the save`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a protocol from the line template, edited and saved, changes a live connection; a compile error keeps the old code", async ({
  app,
  peers,
  wirescope,
}) => {
  const file = path.join(wirescope.workspace, "shout.ts");

  // New protocol from the line template.
  await sidebar(app).getByRole("button", { name: "New protocol", exact: true }).click();
  const create = app.getByRole("dialog", { name: "New protocol" });
  await expect(create).toBeVisible();
  await field(create, "Name").fill("shout");
  await chooseOption(field(create, "Template"), /Line-based/);
  await create.getByRole("button", { name: "Create" }).click();
  await expect(create).toBeHidden();
  await expect(protocolItem(app, "shout.ts")).toBeVisible();

  // A listener running it, and a client on it.
  const port = await freePort();
  const listen = await openNewSessionDialog(app, "listener");
  await fillFields(listen, { Port: String(port), Interface: "127.0.0.1" });
  await chooseOption(field(listen, "Protocol"), /^shout\.ts$/);
  await listen.getByRole("button", { name: "Listen" }).click();
  await expect(listen).toBeHidden();
  const client = await peers.lineClient(port);
  client.write("hi\r\n");
  await client.waitForLine("you said: hi");
  await expect(connectionItem(app, 1)).toBeVisible();

  // Edit and save: the same connection answers with the new code.
  await protocolItem(app, "shout.ts").click();
  const editor = protocolEditor(app);
  await expect(editor).toBeVisible();
  await expect(editor, "the file's code is in the editor").toContainText("LineReceiver");
  await replaceEditorText(app, SHOUTING);
  await app.keyboard.press("ControlOrMeta+S");
  await expect.poll(() => fs.readFileSync(file, "utf8"), { message: "Ctrl+S saved what was written" }).toBe(SHOUTING);
  await answeredBy(client, "YOU SAID");
  await expect(editor.getByRole("region", { name: "Live connections" }), "which connections run it").toContainText(
    "Connection 1",
  );

  // A compile error: shown inline and in Problems; the connection keeps the last good code.
  await replaceEditorText(app, BROKEN);
  await app.keyboard.press("ControlOrMeta+S");
  const problems = app.getByRole("list", { name: "Problems" });
  // The compiler's error (the editor's own type checker may list another on the same line, when it has run).
  await expect(
    problems.getByTitle(/from the compiler at the last save/).filter({ hasText: /shout\.ts:7:\d+/ }),
  ).toBeVisible();
  await expect(editor.locator(".squiggly-error").first(), "a marker under the error").toBeAttached();
  client.write("still there\r\n");
  await client.waitForLine("YOU SAID: STILL THERE");
  await saveScreens(app, "editor-compile-error");

  // Fixed and saved again: no problems left, and it never reconnected.
  await replaceEditorText(app, SHOUTING.replace("YOU SAID", "YOU SAID AGAIN"));
  await app.keyboard.press("ControlOrMeta+S");
  await expect(problems.getByRole("listitem")).toHaveCount(0);
  await answeredBy(client, "YOU SAID AGAIN");
  await expect(connectionItem(app, 2), "still the first connection: no reconnect").toHaveCount(0);
});

test("a file changed on disk while edited is offered back, to reload or to keep the edits; a deleted one saves again", async ({
  app,
  wirescope,
}) => {
  const file = path.join(wirescope.workspace, "lines.ts");
  await sidebar(app).getByRole("button", { name: "New protocol", exact: true }).click();
  const create = app.getByRole("dialog", { name: "New protocol" });
  await field(create, "Name").fill("lines");
  await chooseOption(field(create, "Template"), /Line-based/);
  await create.getByRole("button", { name: "Create" }).click();
  await expect(create).toBeHidden();
  await protocolItem(app, "lines.ts").click();
  const editor = protocolEditor(app);
  await expect(editor).toContainText("LineReceiver");
  const unsaved = editor.getByText("Unsaved changes");
  const changedOnDisk = editor.getByRole("alert").filter({ hasText: "changed on disk" });

  // Unsaved edits here, another editor saves: the user decides, and keeping the edits keeps them unsaved.
  await replaceEditorText(app, `// MINE\n${SHOUTING}`);
  await expect(unsaved).toBeVisible();
  fs.writeFileSync(file, `// THEIRS1\n${SHOUTING}`);
  await expect(changedOnDisk).toBeVisible();
  await changedOnDisk.getByRole("button", { name: "Keep my version" }).click();
  await expect(changedOnDisk).toBeHidden();
  await expect(editor, "the edits are still here").toContainText("MINE");
  await expect(unsaved).toBeVisible();

  // Saved elsewhere again: reloading takes it in, and nothing is left unsaved.
  fs.writeFileSync(file, `// THEIRS2\n${SHOUTING}`);
  await expect(changedOnDisk).toBeVisible();
  await changedOnDisk.getByRole("button", { name: "Reload from disk" }).click();
  await expect(changedOnDisk).toBeHidden();
  await expect(editor, "the other editor's text").toContainText("THEIRS2");
  await expect(unsaved).toBeHidden();

  // Deleted elsewhere: the editor says so, and saving writes it again.
  fs.rmSync(file);
  const gone = editor.getByRole("alert").filter({ hasText: "no longer in the workspace" });
  await expect(gone).toBeVisible();
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await expect(gone).toBeHidden();
  await expect.poll(() => fs.existsSync(file) && fs.readFileSync(file, "utf8")).toBe(`// THEIRS2\n${SHOUTING}`);
});
