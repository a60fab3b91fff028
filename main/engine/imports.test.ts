/**
 * The engine's kept imports: how many it keeps and how much memory they may hold together, and where a path is read
 * from (the workspace, not the process's current directory). Real files in a temporary folder.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writePcap } from "../../tests/helpers/pcap-fixture.ts";
import { importFootprint, importCaptureBytes } from "../interchange/capture-import.ts";
import { ACK, PSH, SYN, tcpFrame, type FrameEnd } from "../interchange/tcp-packet.ts";
import { CaptureImports, UnknownCaptureError } from "./imports.ts";

const CLIENT: FrameEnd = { mac: new Uint8Array(6).fill(1), ip: Uint8Array.of(127, 0, 0, 1), port: 40000 };
const SERVER: FrameEnd = { mac: new Uint8Array(6).fill(2), ip: Uint8Array.of(127, 0, 0, 1), port: 6379 };

/** A pcap of one connection whose client sends `message`. */
function capture(message: string): Uint8Array<ArrayBuffer> {
  const frames = [
    tcpFrame({ from: CLIENT, to: SERVER, seq: 1, ack: 0, flags: SYN, window: 1000, ipId: 1 }),
    tcpFrame({ from: SERVER, to: CLIENT, seq: 50, ack: 2, flags: SYN | ACK, window: 1000, ipId: 2 }),
    tcpFrame({
      from: CLIENT,
      to: SERVER,
      seq: 2,
      ack: 51,
      flags: ACK | PSH,
      window: 1000,
      payload: new TextEncoder().encode(message),
      ipId: 3,
    }),
  ];
  return new Uint8Array(
    writePcap(
      1,
      frames.map((data, i) => ({ micros: 1_700_000_000_000_000 + i, data })),
    ),
  );
}

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-imports-"));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("CaptureImports", () => {
  it("forgets the oldest imports once the kept ones hold more than the memory budget", async () => {
    const one = capture("PING");
    const size = importFootprint(importCaptureBytes(one), one);
    const imports = new CaptureImports({ maxKept: 16, maxKeptBytes: 2 * size });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await imports.importCapture({ name: `${i}.pcap`, data: one }, root)).capture);
    const open = (capture: string) =>
      imports.openConversation({ capture, conversation: 1 }, () => Promise.reject(new Error("kept")));
    await expect(open(ids[0]!)).rejects.toBeInstanceOf(UnknownCaptureError);
    await expect(open(ids[1]!)).rejects.toThrow("kept");
    await expect(open(ids[2]!)).rejects.toThrow("kept");
  });

  it("keeps the newest import even when it alone is over the budget", async () => {
    const imports = new CaptureImports({ maxKept: 16, maxKeptBytes: 1 });
    const { capture: id } = await imports.importCapture({ name: "big.pcap", data: capture("PING") }, root);
    await expect(
      imports.openConversation({ capture: id, conversation: 1 }, () => Promise.reject(new Error("kept"))),
    ).rejects.toThrow("kept");
  });

  it("reads a relative path inside the workspace and says what the file system refused", async () => {
    fs.writeFileSync(path.join(root, "here.pcap"), capture("PING"));
    const imports = new CaptureImports();
    const listing = await imports.importCapture({ name: "here.pcap", path: "here.pcap" }, root);
    expect(listing.conversations).toHaveLength(1);
    await expect(imports.importCapture({ name: "x", path: "gone.pcap" }, root)).rejects.toMatchObject({
      code: "capture-unreadable",
      message: `Can't read ${path.join(root, "gone.pcap")}: there is no such file. Check the path and try again.`,
    });
    fs.mkdirSync(path.join(root, "folder.pcap"));
    await expect(imports.importCapture({ name: "x", path: "folder.pcap" }, root)).rejects.toMatchObject({
      code: "capture-unreadable",
      message: expect.stringContaining("it is a folder"),
    });
  });
});
