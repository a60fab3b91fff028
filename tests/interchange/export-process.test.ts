/**
 * A process session has no pcapng: its bytes went through pipes, which pcapng can't carry. The export says so and
 * where the session's bytes are instead (its .wscap capture, and the `wirescope show --json` command that prints
 * it), and writes no file.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
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
});
