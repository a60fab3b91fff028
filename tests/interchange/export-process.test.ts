/**
 * A process session has no pcapng: its bytes went through pipes, which pcapng can't carry. The export says so and
 * where the session's bytes are instead (its .wscap capture, and the `wirescope show --json` command that prints
 * it), and writes no file. Its capture itself is exported instead, into the exports folder, and reads back whole.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CaptureReader } from "../../main/recording/capture-reader.ts";
import { exportsDir } from "../../main/workspace/layout.ts";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";

const { t } = useEngine();

describe("pcapng export of a process session", () => {
  it("is refused with where the capture is and how to read it", async () => {
    const s = ok(await t.api.spawn({ argv: ["echo", "hello"], protocol: null }));
    await waitForTimeline(
      t.api,
      s.id,
      (events) => events.some((e) => e.kind === "lifecycle" && e.event === "ended"),
      "the child to end",
    );
    const answer = await t.api.exportPcapng({ session: s.id });
    expect(answer).toMatchObject({ ok: false, error: { code: "nothing-to-export" } });
    if (answer.ok) return;
    expect(answer.error.message).toMatch(/^pcapng has no place for a process's pipes \(stdin, stdout, stderr\)/);
    expect(answer.error.message).toContain(`wirescope show --json ${t.engine.captureFileOf(s.id)}`);
    expect(fs.existsSync(exportsDir(t.workspace)) ? fs.readdirSync(exportsDir(t.workspace)) : []).toEqual([]);
  });

  it("exports the capture itself: a copy in the exports folder holding every event, the session recording on", async () => {
    const s = ok(await t.api.spawn({ argv: ["sh", "-c", "echo out; echo err >&2; read line"], protocol: null }));
    await waitForTimeline(t.api, s.id, (events) => events.filter((e) => e.kind === "data").length === 2, "its output");
    const first = ok(await t.api.exportCapture({ session: s.id }));
    expect(path.dirname(first.path)).toBe(exportsDir(t.workspace));
    expect(path.basename(first.path)).toBe("sh.wscap");
    expect(fs.statSync(first.path).size).toBe(first.bytes);

    const reader = await CaptureReader.open(first.path);
    try {
      expect(reader.count).toBeGreaterThanOrEqual(first.events);
      const read = await reader.read(0, reader.count);
      const data = read.flatMap((e) => (e.kind === "data" ? [[e.fd, new TextDecoder().decode(e.data)]] : []));
      expect(data).toEqual(
        expect.arrayContaining([
          [1, "out\n"],
          [2, "err\n"],
        ]),
      );
      expect(read.map((e) => (e.kind === "lifecycle" ? e.event : e.kind))).toContain("spawned");
    } finally {
      await reader.close();
    }

    // The session goes on: what it records next is in a second export, under a new name.
    ok(await t.api.send({ session: s.id, conn: 1, data: "bye\\n", encoding: "text" }));
    await waitForTimeline(
      t.api,
      s.id,
      (events) => events.some((e) => e.kind === "lifecycle" && e.event === "ended"),
      "the end",
    );
    const second = ok(await t.api.exportCapture({ session: s.id }));
    expect(path.basename(second.path)).toBe("sh-2.wscap");
    expect(second.events).toBeGreaterThan(first.events);
  });
});
