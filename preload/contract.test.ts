/**
 * The contract's argument checks: what a person sees when a command is called with bad arguments.
 */
import { describe, expect, it } from "vitest";
import { checkArgs, commands, isCommandName, toContractError } from "./contract.ts";
import { MAX_REASON_LENGTH } from "./limits.ts";

describe("checkArgs", () => {
  it("accepts an endpoint string or structured fields", () => {
    expect(checkArgs("connect", { target: { endpoint: "tcp:host=127.0.0.1:port=6379" } }).ok).toBe(true);
    expect(checkArgs("connect", { target: { host: "127.0.0.1", port: 6379, tls: false } }).ok).toBe(true);
    expect(checkArgs("listen", { target: { port: 0 } }).ok).toBe(true);
  });

  it("names the wrong field and says what was expected, in its message and in its issues", () => {
    const r = checkArgs("connect", { target: { host: "127.0.0.1", port: 70000 } });
    expect(r).toEqual({
      ok: false,
      error: {
        code: "invalid-arguments",
        category: "usage",
        message: "connect: target.port: a port is from 0 to 65535",
        issues: [{ path: "target.port", message: "a port is from 0 to 65535" }],
      },
    });
    const empty = checkArgs("connect", { target: { host: " ", port: 80 } });
    expect(!empty.ok && empty.error.message).toMatch(/target.host: the host is empty/);
    const both = checkArgs("connect", { target: { endpoint: "tcp:a:1", port: 80 } });
    expect(!both.ok && both.error.message).toMatch(/either an endpoint string or host and port/);
    const missing = checkArgs("listen", { target: {} });
    expect(!missing.ok && missing.error.message).toMatch(/target.port: the port is missing/);
    expect(!missing.ok && missing.error.issues).toEqual([
      { path: "target.port", message: "the port is missing (0 picks a free one)" },
    ]);
    const wrongType = checkArgs("send", { session: "s1", conn: "1", data: "x", encoding: "text" });
    expect(!wrongType.ok && wrongType.error.message).toMatch(/^send: conn: /);
    const badEncoding = checkArgs("send", { session: "s1", conn: 1, data: "x", encoding: "utf7" });
    expect(!badEncoding.ok && badEncoding.error.message).toMatch(/encoding/);
  });

  it("keeps its message and issues short, however many fields are wrong or unknown and however long their names", () => {
    const target: Record<string, unknown> = { host: "127.0.0.1", port: 80 };
    for (let i = 0; i < 10_000; i++) target[`k${i}`.padEnd(1000, "k")] = i;
    const unknown = checkArgs("connect", { target });
    expect(!unknown.ok && unknown.error.message.length).toBeLessThan(300);
    expect(!unknown.ok && unknown.error.message).toMatch(/^connect: target: Unrecognized keys: "k0k+…$/);
    expect(!unknown.ok && unknown.error.issues).toEqual([{ path: "target", message: expect.stringMatching(/…$/) }]);
    expect(!unknown.ok && unknown.error.issues![0]!.message.length).toBeLessThanOrEqual(200);
    const wrong = { endpoint: 1, host: 2, port: "3", tls: 4 };
    const many = checkArgs("connect", { target: wrong, protocol: 5, name: 6 });
    expect(!many.ok && many.error.message).toMatch(/; and 1 more$/);
    expect(!many.ok && many.error.issues).toHaveLength(6);
    expect(!many.ok && many.error.issues![5]).toEqual({ path: "", message: "and 1 more" });
  });

  it("refuses unknown fields in targets rather than ignoring them", () => {
    const r = checkArgs("connect", { target: { host: "127.0.0.1", prot: 80 } });
    expect(r.ok).toBe(false);
  });

  it("knows its own commands only", () => {
    expect(isCommandName("connect")).toBe(true);
    expect(isCommandName("toString")).toBe(false);
    expect(isCommandName("constructor")).toBe(false);
    expect(Object.keys(commands).length).toBeGreaterThan(10);
  });

  it("turns engine errors into { code, category, message }", () => {
    class NotFound extends Error {
      code = "unknown-session";
    }
    expect(toContractError(new NotFound("no session 's9'"))).toEqual({
      code: "unknown-session",
      category: "usage",
      message: "no session 's9'",
    });
    const refused = Object.assign(new Error("Connection was refused by other side"), {
      code: "ConnectionRefusedError",
    });
    expect(toContractError(refused)).toMatchObject({ code: "ConnectionRefusedError", category: "failed" });
    expect(toContractError(new Error("boom"))).toEqual({ code: "internal", category: "internal", message: "boom" });
  });

  it("turns a code that is not Wirescope's (Node's, a typo) into internal, keeping the message", () => {
    const node = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: "EACCES" });
    expect(toContractError(node)).toEqual({
      code: "internal",
      category: "internal",
      message: "EACCES: permission denied, open '/x'",
    });
    expect(toContractError(Object.assign(new Error("old"), { code: "INVALID_PATH" }))).toMatchObject({
      code: "internal",
    });
  });

  it("keeps an engine error's message short, whatever it quotes", () => {
    const error = toContractError(new Error(`no host ${"a".repeat(15 * 1024 * 1024)}`));
    expect(error.message).toHaveLength(MAX_REASON_LENGTH);
    expect(error.message).toMatch(/^no host a+…$/);
    expect(toContractError("b".repeat(5000)).message).toHaveLength(MAX_REASON_LENGTH);
  });
});
