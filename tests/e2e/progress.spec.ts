/**
 * A long import in the workbench: a capture of about 10 MB (150,000 one-byte segments, about a second and a half of
 * the engine's work) shows how much of it was read, and its Cancel stops it: the import dialog says it was
 * cancelled, lists no conversation, and no session appears. Cancel is pressed once the first progress report shows.
 */
import { ACK, PSH, SYN, tcpFrame, type FrameEnd } from "../../main/interchange/tcp-packet.ts";
import { writePcap } from "../helpers/pcap-fixture.ts";
import { expect, field, openImportDialog, sessionItems, test } from "./fixtures.ts";

const CLIENT: FrameEnd = { mac: new Uint8Array(6).fill(1), ip: Uint8Array.of(127, 0, 0, 1), port: 40000 };
const SERVER: FrameEnd = { mac: new Uint8Array(6).fill(2), ip: Uint8Array.of(127, 0, 0, 1), port: 6379 };
const SEGMENTS = 150_000;

/** A pcap of one connection whose client sends SEGMENTS one-byte segments: many packets for its size. */
function bigCapture(): Buffer {
  const payload = Uint8Array.of(0x41);
  const frames = [tcpFrame({ from: CLIENT, to: SERVER, seq: 1, ack: 0, flags: SYN, window: 1000, ipId: 1 })];
  for (let i = 0; i < SEGMENTS; i++) {
    frames.push(
      tcpFrame({ from: CLIENT, to: SERVER, seq: 2 + i, ack: 1, flags: ACK | PSH, window: 1000, payload, ipId: 2 }),
    );
  }
  return Buffer.from(
    writePcap(
      1,
      frames.map((data, i) => ({ micros: 1_700_000_000_000_000 + i, data })),
    ),
  );
}

test("a long import shows its progress, and Cancel stops it with nothing kept", async ({ app }) => {
  const dialog = await openImportDialog(app);
  const buffer = bigCapture();
  await field(dialog, "Capture file").setInputFiles({ name: "big.pcap", mimeType: "application/octet-stream", buffer });

  const running = dialog.getByRole("group", { name: "Import" });
  await expect(running.getByRole("status"), "a report: MiB read of the whole").toContainText(
    /Import: [\d.]+ MiB of 10 MiB/,
  );
  await expect(running.getByRole("progressbar", { name: "Import progress" })).toBeVisible();
  await running.getByRole("button", { name: "Cancel" }).click();

  const input = field(dialog, "Capture file");
  await expect(input, "the engine's word, next to the file").toHaveAccessibleDescription(/Cancelled/);
  await expect(running).toHaveCount(0);
  await expect(dialog.getByRole("table", { name: "Conversations" })).toHaveCount(0);
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(sessionItems(app), "no session was made").toHaveCount(0);
});
