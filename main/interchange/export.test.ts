import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConnectionInfo } from "../../preload/contract.ts";
import type { DistributiveOmit, TimelineEvent } from "../../preload/timeline.ts";
import { fieldRows, followTcpRaw, hasTshark, problems } from "../../tests/interchange/tshark-checks.ts";
import { fileStem } from "../../preload/file-stem.ts";
import { exportSession, NothingToExportError, type RecordedSession, type SessionHeader } from "./export.ts";

const tshark = hasTshark();
if (!tshark)
  console.warn(
    "Skipping the export read-back test by tshark: tshark is not installed (apt-get install tshark; .ci/run does this)",
  );

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "export-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function connection(conn: number, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    conn,
    leg: "server",
    state: "closed",
    peer: "127.0.0.1:7",
    host: `127.0.0.1:${40000 + conn}`,
    bytesIn: 0,
    bytesOut: 0,
    chunksIn: 0,
    chunksOut: 0,
    openedAt: 0,
    protocol: null,
    ...over,
  };
}

/** A session named `name` with these connections, as the export reads it (less its timeline). */
function session(connections: ConnectionInfo[], name = "my session"): Omit<RecordedSession, "timeline"> {
  const info: SessionHeader = {
    id: "s1",
    kind: "client",
    name,
    target: "tcp:host=127.0.0.1:port=7",
    epochMs: 1_700_000_000_000,
  };
  return { info, connections };
}

/** A timeline in memory that answers at most `page` events per read, and remembers the largest read asked. */
function timeline(events: TimelineEvent[], page = 3): RecordedSession["timeline"] & { largestAsk: number } {
  return {
    count: events.length,
    largestAsk: 0,
    async read(from, count) {
      this.largestAsk = Math.max(this.largestAsk, count);
      return events.slice(from, from + Math.min(count, page));
    },
  };
}

/** Two TCP connections talking at once, interleaved on the timeline, both closed. */
function twoConnections(): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  let t = 0;
  const push = (e: DistributiveOmit<TimelineEvent, "seq" | "t">) =>
    out.push({ ...e, seq: out.length, t: (t += 100) } as TimelineEvent);
  for (const conn of [1, 2]) push({ kind: "lifecycle", conn, event: "connected", detail: "" });
  for (let i = 0; i < 4; i++) {
    for (const conn of [1, 2]) {
      push({ kind: "data", conn, dir: "out", data: Buffer.from(`ping ${conn}.${i}\n`) });
      push({ kind: "log", conn, level: "info", text: `decoded ping ${conn}.${i}`, fields: {} });
      push({ kind: "data", conn, dir: "in", data: Buffer.from(`pong ${conn}.${i}\n`) });
    }
  }
  for (const conn of [1, 2]) push({ kind: "lifecycle", conn, event: "lost", detail: "ConnectionDone: closed." });
  return out;
}

describe("exportSession", () => {
  it.skipIf(!tshark)("writes each TCP connection as its own stream, reading the timeline by ranges", async () => {
    const events = twoConnections();
    const source = { ...session([connection(1), connection(2)]), timeline: timeline(events) };
    const result = await exportSession(source, dir);
    expect(result.path).toBe(path.join(dir, "my-session.pcapng"));
    expect(result.skipped).toEqual([]);
    expect(result.bytes).toBe(fs.statSync(result.path).size);
    expect(source.timeline.largestAsk).toBeLessThanOrEqual(4096);
    expect(await problems(result.path)).toEqual([]);
    for (const [stream, conn] of [
      [0, 1],
      [1, 2],
    ]) {
      const followed = await followTcpRaw(result.path, stream);
      expect(followed.node0).toBe(`127.0.0.1:${40000 + conn!}`);
      expect(followed.fromNode0.toString()).toBe([0, 1, 2, 3].map((i) => `ping ${conn}.${i}\n`).join(""));
      expect(followed.fromNode1.toString()).toBe([0, 1, 2, 3].map((i) => `pong ${conn}.${i}\n`).join(""));
    }
    const comments = (await fieldRows(result.path, ["frame.comment"], "frame.comment")).flat();
    expect(comments.sort()).toEqual([1, 2].flatMap((c) => [0, 1, 2, 3].map((i) => `decoded ping ${c}.${i}`)).sort());
    expect(result.packets).toBe((await fieldRows(result.path, ["frame.number"])).length);
  });

  it("skips connections without TCP addresses and says which and why, in the result and the file", async () => {
    const source = {
      ...session([
        connection(1),
        connection(2, { host: "", peer: "" }),
        connection(3, { host: "/tmp/wirescope.sock", peer: "" }),
      ]),
      timeline: timeline(twoConnections()),
    };
    const result = await exportSession(source, dir);
    expect(result.skipped).toEqual([
      "connection 2: never connected",
      "connection 3: not a TCP connection (/tmp/wirescope.sock)",
    ]);
    expect(fs.readFileSync(result.path).includes("not exported: connection 2: never connected")).toBe(true);
  });

  it("never overwrites: the next export of the same session is name-2, then name-3; a connection adds -conn-N", async () => {
    const source = () => ({ ...session([connection(1), connection(2)]), timeline: timeline(twoConnections()) });
    const first = await exportSession(source(), dir);
    const before = fs.readFileSync(first.path);
    const second = await exportSession(source(), dir);
    const third = await exportSession(source(), dir);
    const one = await exportSession(source(), dir, 2);
    expect([first, second, third, one].map((r) => path.basename(r.path))).toEqual([
      "my-session.pcapng",
      "my-session-2.pcapng",
      "my-session-3.pcapng",
      "my-session-conn-2.pcapng",
    ]);
    expect(fs.readFileSync(first.path).equals(before)).toBe(true);
    expect(one.packets).toBeLessThan(first.packets);
  });

  it("refuses, without creating a file, a session with nothing to export", async () => {
    const none = { ...session([]), timeline: timeline([]) };
    await expect(exportSession(none, dir)).rejects.toThrow(NothingToExportError);
    await expect(exportSession(none, dir)).rejects.toThrow(/has no connections yet: connect/);
    const unconnected = {
      ...session([connection(1, { host: "", peer: "", state: "connecting" })]),
      timeline: timeline([]),
    };
    await expect(exportSession(unconnected, dir)).rejects.toThrow(
      /nothing to export as pcapng \(connection 1: still connecting\): only TCP connections that connected/,
    );
    await expect(exportSession(unconnected, dir, 1)).rejects.toMatchObject({ code: "nothing-to-export" });
    await expect(exportSession(none, dir, 9)).rejects.toThrow(/has no connection 9/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("removes the partial file when reading the timeline fails", async () => {
    const failing: RecordedSession = {
      ...session([connection(1)]),
      timeline: {
        count: 10,
        read: () => Promise.reject(Object.assign(new Error("capture file unreadable"), { code: "READ_FAILED" })),
      },
    };
    await expect(exportSession(failing, dir)).rejects.toThrow(/capture file unreadable/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("stops between ranges once its signal is aborted: the signal's reason is thrown and no file is left", async () => {
    const controller = new AbortController();
    const events = twoConnections();
    const source: RecordedSession = {
      ...session([connection(1), connection(2)]),
      timeline: {
        count: events.length,
        async read(from, count) {
          controller.abort(new Error("stopped by Ctrl+C"));
          return events.slice(from, from + Math.min(count, 3));
        },
      },
    };
    await expect(exportSession(source, dir, undefined, controller.signal)).rejects.toThrow("stopped by Ctrl+C");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it.each([
    ["client 1", undefined, "client-1"],
    ["../../etc/passwd", undefined, "etc-passwd"],
    ["redis: résumé ✓", 3, "redis-résumé-conn-3"],
    ["...", undefined, "s1"],
  ])("names the file after the session %j (connection %s): %s", (name, conn, stem) => {
    expect(fileStem(session([], name).info, conn)).toBe(stem);
  });
});
