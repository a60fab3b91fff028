/**
 * A workspace protocol for the end-to-end tests of decoded messages, and how to open a client running it: it reads
 * "COMMAND key value" lines (CRLF) and reports each as a decoded message with its fields, the bytes of the line and
 * of each field. It counts the stream's offsets itself, so that the tests do not depend on which framers set the
 * message's span.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Page } from "@playwright/test";
import {
  chooseOption,
  expect,
  field,
  fillFields,
  openNewSessionDialog,
  protocolItem,
  selectItem,
  sessionItem,
} from "./fixtures.ts";

/** The protocol's source, written as `commands.ts` in the workspace. */
const COMMANDS_PROTOCOL = `import { Protocol } from "wirescope";

export class Commands extends Protocol {
  private pending = "";
  private offset = 0;

  override dataReceived(data: Buffer): void {
    this.pending += data.toString("latin1");
    for (let end = this.pending.indexOf("\\r\\n"); end !== -1; end = this.pending.indexOf("\\r\\n")) {
      const [command = "", key = "", value = ""] = this.pending.slice(0, end).split(" ");
      this.log.message(
        "{command} {key}",
        { command, key, value },
        {
          spans: [{ dir: "in", offset: this.offset, length: end + 2 }],
          fieldSpans: {
            command: [0, command.length],
            key: [command.length + 1, key.length],
            value: [command.length + key.length + 2, value.length],
          },
        },
      );
      this.offset += end + 2;
      this.pending = this.pending.slice(end + 2);
    }
  }
}

export default Commands;
`;

/** Writes the protocol into the workspace and opens a client to the echo server running it. */
export async function connectWithCommands(app: Page, workspace: string, port: number): Promise<void> {
  fs.writeFileSync(path.join(workspace, "commands.ts"), COMMANDS_PROTOCOL);
  await expect(protocolItem(app, "commands.ts")).toBeVisible();
  const dialog = await openNewSessionDialog(app, "connection");
  await fillFields(dialog, { Host: "127.0.0.1", Port: String(port) });
  await chooseOption(field(dialog, "Protocol"), /commands\.ts/);
  await dialog.getByRole("button", { name: "Connect" }).click();
  await expect(dialog).toBeHidden();
  const session = sessionItem(app, String(port));
  await expect(session).toContainText(/connected/i);
  await selectItem(session);
}
