import { describe, expect, it } from "vitest";
import { contractError } from "../../../preload/errors.ts";
import { buildSpawnRequest, parseEnvLines, spawnErrorFields } from "./process-form.ts";

describe("the process fields", () => {
  it("run the command line's words as a shell reads them, with the folder and environment given", () => {
    const built = buildSpawnRequest({
      command: `sh -c 'echo oops >&2; exit 3'`,
      cwd: " /tmp ",
      env: "LANG=C\n\nGREETING=a = b\n",
    });
    expect(built).toEqual({
      ok: true,
      args: {
        argv: ["sh", "-c", "echo oops >&2; exit 3"],
        cwd: "/tmp",
        env: { LANG: "C", GREETING: "a = b" },
        protocol: null,
      },
    });
  });

  it("run the protocol chosen on the child, or none for raw bytes", () => {
    expect(buildSpawnRequest({ command: "bc -q", cwd: "", env: "", protocol: "template:bc" })).toEqual({
      ok: true,
      args: { argv: ["bc", "-q"], protocol: "template:bc" },
    });
    expect(buildSpawnRequest({ command: "bc -q", cwd: "", env: "", protocol: "" })).toEqual({
      ok: true,
      args: { argv: ["bc", "-q"], protocol: null },
    });
  });

  it("leave out an empty folder and environment", () => {
    expect(buildSpawnRequest({ command: "cat", cwd: "", env: "  \n" })).toEqual({
      ok: true,
      args: { argv: ["cat"], protocol: null },
    });
  });

  it("say what is wrong next to the field: an open quote, nothing typed, a line that is not KEY=value", () => {
    expect(buildSpawnRequest({ command: "echo 'a", cwd: "", env: "" })).toEqual({
      ok: false,
      errors: { command: "A single quote at character 6 is never closed" },
    });
    const empty = buildSpawnRequest({ command: "  ", cwd: "", env: "=x" });
    expect(empty.ok).toBe(false);
    if (!empty.ok) expect(Object.keys(empty.errors).sort()).toEqual(["command", "env"]);
    expect(parseEnvLines("A=1\nnot a pair")).toEqual({ error: 'line 2 is not KEY=value: "not a pair"' });
  });

  it("put the engine's refusal to run the program on the command line", () => {
    const error = contractError("spawn-failed", "Could not run nope: no such program");
    expect(spawnErrorFields(error)).toEqual({ command: "Could not run nope: no such program" });
    const issues = contractError("invalid-arguments", "bad", [{ path: "cwd", message: "empty" }]);
    expect(spawnErrorFields(issues)).toEqual({ cwd: "Empty" });
  });
});
