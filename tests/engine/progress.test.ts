/**
 * Long commands under an operation id: importCapture, exportPcapng and decode report progress (over the WebSocket
 * adapter) and stop at `cancel` with a "cancelled" error, leaving no capture, session or file behind. The cancels
 * are sent from the first progress event, straight to the engine, so where they land does not depend on timing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { EventPayload } from "../../preload/contract.ts";
import { ACK, PSH, SYN, tcpFrame, type FrameEnd } from "../../main/interchange/tcp-packet.ts";
import { ok, useEngine } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";
import { writePcap } from "../helpers/pcap-fixture.ts";

const { t } = useEngine();

const CLIENT: FrameEnd = { mac: new Uint8Array(6).fill(1), ip: Uint8Array.of(127, 0, 0, 1), port: 40000 };
const SERVER: FrameEnd = { mac: new Uint8Array(6).fill(2), ip: Uint8Array.of(127, 0, 0, 1), port: 6379 };
/** Segments of the big capture: more than two reads of the file (1 MiB each) and of the timeline (4,096 events). */
const SEGMENTS = 10_000;
const SEGMENT_BYTES = 300;

/** A pcap of one connection whose client sends SEGMENTS segments: about 3.6 MB. */
function bigCapture(): Uint8Array<ArrayBuffer> {
  const payload = new Uint8Array(SEGMENT_BYTES).fill(0x41);
  const frames = [
    tcpFrame({ from: CLIENT, to: SERVER, seq: 1, ack: 0, flags: SYN, window: 1000, ipId: 1 }),
    tcpFrame({ from: SERVER, to: CLIENT, seq: 50, ack: 2, flags: SYN | ACK, window: 1000, ipId: 2 }),
  ];
  for (let i = 0; i < SEGMENTS; i++) {
    const seq = 2 + i * SEGMENT_BYTES;
    frames.push(tcpFrame({ from: CLIENT, to: SERVER, seq, ack: 51, flags: ACK | PSH, window: 1000, payload, ipId: 3 }));
  }
  const records = frames.map((data, i) => ({ micros: 1_700_000_000_000_000 + i, data }));
  return new Uint8Array(writePcap(1, records));
}

/** Routes the engine's progress events to `seen`, cancelling `cancelAt`'s operation at its first one. */
function watchProgress(cancelAt?: string): EventPayload<"onProgress">[] {
  const seen: EventPayload<"onProgress">[] = [];
  t.engine.setEventSink((name, payload) => {
    if (name !== "onProgress") return;
    const progress = payload as EventPayload<"onProgress">;
    seen.push(progress);
    if (progress.operation === cancelAt && seen.length === 1) void t.engine.cancel({ operation: cancelAt });
  });
  return seen;
}

/** Imports the big capture and opens its conversation: a session with more than 10,000 events. */
async function bigSession(): Promise<string> {
  const { capture } = ok(await t.api.importCapture({ name: "big.pcap", data: bigCapture() }));
  return ok(await t.api.openConversation({ capture, conversation: 1 })).id;
}

describe("progress of long commands", () => {
  it("reports an import's bytes read over the contract, the first and the last read included", async () => {
    const data = bigCapture();
    const result = ok(await t.api.importCapture({ name: "big.pcap", data, operation: "import-1" }));
    expect(result.conversations[0]!.bytesToServer).toBe(SEGMENTS * SEGMENT_BYTES);
    await waitFor(() => t.received.onProgress.at(-1)?.done === data.byteLength, "the last progress event");
    const seen = t.received.onProgress;
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]).toEqual({ operation: "import-1", done: 1024 * 1024, total: data.byteLength, unit: "bytes" });
    expect(seen.every((p) => p.operation === "import-1" && p.total === data.byteLength)).toBe(true);
  });

  it("reports the events an export and a decode read, up to the timeline's length", async () => {
    const session = await bigSession();
    const events = ok(await t.api.listSessions({})).find((s) => s.id === session)!.events;
    const seen = watchProgress();
    ok(await t.api.exportPcapng({ session, operation: "export-1" }));
    ok(await t.api.decode({ session, conn: 1, protocol: "template:resp", side: "server", operation: "decode-1" }));
    for (const operation of ["export-1", "decode-1"]) {
      const mine = seen.filter((p) => p.operation === operation);
      expect(mine.length, operation).toBeGreaterThanOrEqual(2);
      expect(mine.at(-1), operation).toEqual({ operation, done: events, total: events, unit: "events" });
    }
  });

  it("refuses a second command under an id still running, and cancel of an unknown id says it ran nothing", async () => {
    expect(ok(await t.api.cancel({ operation: "nothing" }))).toEqual({ cancelled: false });
    // The second is sent while the first reports its progress, so the first is surely still running.
    let second: Promise<unknown> | null = null;
    t.engine.setEventSink((name) => {
      if (name !== "onProgress" || second !== null) return;
      second = t.engine.importCapture({ name: "big.pcap", data: bigCapture(), operation: "same" });
      second.catch(() => {});
    });
    ok(await t.api.importCapture({ name: "big.pcap", data: bigCapture(), operation: "same" }));
    await expect(second).rejects.toMatchObject({ code: "operation-in-use" });
  });
});

describe("cancelling long commands", () => {
  it("stops an import of a file with 'cancelled' and keeps nothing", async () => {
    fs.writeFileSync(path.join(t.workspace, "big.pcap"), bigCapture());
    const seen = watchProgress("import-1");
    const result = await t.api.importCapture({ name: "big.pcap", path: "big.pcap", operation: "import-1" });
    expect(result.ok ? null : result.error).toMatchObject({ code: "cancelled", category: "interrupted" });
    expect(seen).toHaveLength(1);
    const opened = await t.api.openConversation({ capture: "c1", conversation: 1 });
    expect(opened.ok ? null : opened.error.code).toBe("unknown-capture");
    expect(ok(await t.api.listSessions({}))).toEqual([]);
    // The id is free again once the command is over.
    ok(await t.api.importCapture({ name: "big.pcap", path: "big.pcap", operation: "import-1" }));
  });

  it("stops an export with 'cancelled' and leaves no file in the exports folder", async () => {
    const session = await bigSession();
    watchProgress("export-1");
    const result = await t.api.exportPcapng({ session, operation: "export-1" });
    expect(result.ok ? null : result.error.code).toBe("cancelled");
    const exports = path.join(t.workspace, "exports");
    expect(fs.existsSync(exports) ? fs.readdirSync(exports) : []).toEqual([]);
  });

  it("stops a decode with 'cancelled' and leaves no decode session", async () => {
    const session = await bigSession();
    watchProgress("decode-1");
    const result = await t.api.decode({
      session,
      conn: 1,
      protocol: "template:resp",
      side: "server",
      operation: "decode-1",
    });
    expect(result.ok ? null : result.error.code).toBe("cancelled");
    expect(ok(await t.api.listSessions({})).map((s) => s.id)).toEqual([session]);
  });
});
