/**
 * Every string in the contract's arguments has a limit a person would find reasonable, checked by the schema with a
 * message that says the length and the limit; and the case that showed why, a 15 MiB host sent to a real engine
 * over the WebSocket, leaves the engine answering as before.
 */
import { describe, expect, it } from "vitest";
import { checkArgs, commands, type CommandName } from "../../preload/contract.ts";
import {
  MAX_ENDPOINT_LENGTH,
  MAX_HOST_LENGTH,
  MAX_NAME_LENGTH,
  MAX_PATH_LENGTH,
  MAX_SEND_LENGTH,
  MAX_SOURCE_LENGTH,
} from "../../preload/limits.ts";
import { ok, startEngine } from "../helpers/engine.ts";
import { contractSamples } from "./suite.ts";

/** Longer than every string limit of the contract. */
const HUGE = "x".repeat(MAX_SEND_LENGTH + 1);
const FIFTEEN_MIB = 15 * 1024 * 1024;

/** Arguments with string fields the samples leave out (optional ones), so that each is tried too. */
const extraArgs: { name: CommandName; args: Record<string, unknown> }[] = [
  { name: "connect", args: { target: { endpoint: "tcp:host=127.0.0.1:port=1" }, name: "n", protocol: "p.ts" } },
  { name: "listen", args: { target: { port: 0, interface: "127.0.0.1" }, name: "n" } },
  { name: "saveProfile", args: { name: "p", kind: "proxy", endpoint: "tcp:0", upstream: "tcp:a:1", protocol: "p" } },
  { name: "importCapture", args: { name: "a.pcap", path: "/tmp/a.pcap" } },
  { name: "decode", args: { session: "s1", conn: 1, protocol: "p.ts", side: "both", name: "n" } },
  { name: "replay", args: { session: "s1", conn: 1, side: "server", listen: { endpoint: "tcp:0" }, name: "n" } },
];

/** Each way to make one string of `args` huge: the path to it and the arguments with it replaced. */
function withOneHugeString(args: unknown, path: string[] = []): { path: string; args: unknown }[] {
  if (typeof args === "string") return [{ path: path.join("."), args: HUGE }];
  if (typeof args !== "object" || args === null || args instanceof Uint8Array) return [];
  const record = args as Record<string, unknown>;
  return Object.keys(record).flatMap((key) =>
    withOneHugeString(record[key], [...path, key]).map((v) => ({ path: v.path, args: { ...record, [key]: v.args } })),
  );
}

describe("string limits in the contract's arguments", () => {
  it("says how long the host is and how long it may be", () => {
    const r = checkArgs("connect", { target: { host: "a".repeat(FIFTEEN_MIB), port: 6379 } });
    expect(r).toEqual({
      ok: false,
      error: {
        code: "invalid-arguments",
        message: "connect: target.host: the host is 15,728,640 characters; at most 253",
      },
    });
  });

  it("takes a string as long as its limit and refuses one character more", () => {
    const cases: [CommandName, (s: string) => unknown, number][] = [
      ["connect", (s) => ({ target: { host: s, port: 1 } }), MAX_HOST_LENGTH],
      ["connect", (s) => ({ target: { endpoint: s } }), MAX_ENDPOINT_LENGTH],
      ["listen", (s) => ({ target: { port: 0 }, name: s }), MAX_NAME_LENGTH],
      ["readProtocol", (s) => ({ path: s }), MAX_PATH_LENGTH],
      ["send", (s) => ({ session: "s1", conn: 1, data: s, encoding: "text" }), MAX_SEND_LENGTH],
      ["saveProtocol", (s) => ({ path: "p.ts", content: s }), MAX_SOURCE_LENGTH],
    ];
    for (const [name, args, limit] of cases) {
      expect(checkArgs(name, args("a".repeat(limit))).ok, `${name} at its limit`).toBe(true);
      const over = checkArgs(name, args("a".repeat(limit + 1)));
      expect(!over.ok && over.error.message).toContain(`characters; at most ${limit.toLocaleString("en-US")}`);
    }
  });

  it("refuses a huge string in every field of every command, naming the field, without quoting it", () => {
    const all = [
      ...Object.keys(commands).map((name) => ({
        name: name as CommandName,
        args: contractSamples[name as CommandName].args as unknown,
      })),
      ...extraArgs,
    ];
    let tried = 0;
    for (const { name, args } of all) {
      for (const variant of withOneHugeString(args)) {
        tried++;
        const r = checkArgs(name, variant.args);
        const what = `${name} with a huge ${variant.path}`;
        expect(r.ok, what).toBe(false);
        if (r.ok) continue;
        expect(r.error.code, what).toBe("invalid-arguments");
        expect(r.error.message, what).toContain(`${name}: ${variant.path}: `);
        expect(r.error.message, what).toMatch(/characters; at most [\d,]+$|expected one of/);
        expect(r.error.message.length, what).toBeLessThan(300);
      }
    }
    expect(tried).toBeGreaterThan(40);
  });
});

describe("a 15 MiB host sent to a real engine over the WebSocket", () => {
  it("is refused at once, and the engine goes on answering with small replies", async () => {
    const t = await startEngine();
    try {
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 2; i++) {
        const r = await t.api.connect({ target: { host: "a".repeat(FIFTEEN_MIB), port: 6379 } });
        // The length first: a failure then shows a number, not the megabytes the answer used to quote.
        expect(!r.ok && r.error.message.length).toBeLessThan(300);
        expect(r).toEqual({
          ok: false,
          error: {
            code: "invalid-arguments",
            message: "connect: target.host: the host is 15,728,640 characters; at most 253",
          },
        });
      }
      const named = await t.api.listen({ target: { port: 0 }, name: "n".repeat(FIFTEEN_MIB) });
      expect(!named.ok && named.error.message).toBe("listen: name: the name is 15,728,640 characters; at most 256");
      // Nothing was created, the connection stayed, and the list is as small as an empty engine's.
      expect(ok(await t.api.listSessions({}))).toEqual([]);
      const listener = ok(await t.api.listen({ target: { port: 0 }, name: "after" }));
      expect(ok(await t.api.listSessions({})).map((s) => s.name)).toEqual([listener.name]);
      // The refused strings were not copied around: far from the gigabyte the first one used to cost.
      expect(process.memoryUsage().rss - before).toBeLessThan(400 * 2 ** 20);
    } finally {
      await t.close();
    }
  });
});
