import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../../../preload/contract.ts";
import type { TimelineEvent } from "../../../preload/timeline.ts";
import { fdLabel, processState } from "./process-format.ts";
import { directionLabel, isTrouble } from "./timeline-format.ts";

function session(state: SessionInfo["state"], process: Partial<NonNullable<SessionInfo["process"]>>): SessionInfo {
  return {
    ...{ id: "s1", kind: "process", name: "cat", target: "cat", protocol: null, epochMs: 0, connections: [] },
    ...{ bytesIn: 0, bytesOut: 0, events: 0, state },
    process: { argv: ["cat"], cwd: "/tmp", ...process },
  };
}

const chunk = (fd: number | undefined, dir: "in" | "out"): TimelineEvent => ({
  ...{ seq: 0, t: 0, conn: 1, kind: "data", dir, data: new Uint8Array([0x61]) },
  ...(fd !== undefined ? { fd } : {}),
});

describe("a process session as shown", () => {
  it("says how its child is doing", () => {
    expect(processState(session("connected", { pid: 42 }))).toEqual({ label: "running", tone: "ok" });
    expect(processState(session("closed", { exitCode: 0 })).label).toBe("exited with code 0");
    expect(processState(session("closed", { exitCode: 3 }))).toEqual({ label: "exited with code 3", tone: "trouble" });
    expect(processState(session("closed", { signal: "SIGKILL" })).label).toBe("killed by SIGKILL");
  });

  it("names the pipe of each chunk; a socket's chunk has none", () => {
    expect([chunk(0, "out"), chunk(1, "in"), chunk(2, "in"), chunk(undefined, "in")].map(directionLabel)).toEqual([
      "→ stdin",
      "← stdout",
      "← stderr",
      "←",
    ]);
    expect(fdLabel(chunk(5, "in"))).toBe("fd 5");
  });

  it("marks a child that exited badly", () => {
    const exited = (fields: Record<string, unknown>): TimelineEvent => ({
      ...{ seq: 1, t: 0, conn: 1, kind: "lifecycle", event: "exited", detail: "" },
      fields,
    });
    expect(isTrouble(exited({ code: 0, signal: null }))).toBe(false);
    expect(isTrouble(exited({ code: 3, signal: null }))).toBe(true);
    expect(isTrouble(exited({ code: null, signal: "SIGKILL" }))).toBe(true);
  });
});
