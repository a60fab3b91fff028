/**
 * Every string in the contract's arguments has a limit a person would find reasonable, checked by the schema with a
 * message that says the length and the limit; and the case that showed why, a 15 MiB host sent to a real engine
 * over the WebSocket, leaves the engine answering as before.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROFILES_FILE } from "../../main/workspace/layout.ts";
import { checkArgs, commands, type CommandName } from "../../preload/contract.ts";
import {
  MAX_ARGV_LENGTH,
  MAX_ENDPOINT_LENGTH,
  MAX_ENV_LENGTH,
  MAX_HOST_LENGTH,
  MAX_LISTED_CONNECTIONS,
  MAX_NAME_LENGTH,
  MAX_PATH_LENGTH,
  MAX_PROFILES,
  MAX_PROTOCOL_PATH_LENGTH,
  MAX_REASON_LENGTH,
  MAX_SEND_LENGTH,
  MAX_SESSIONS,
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
  if (Array.isArray(args)) {
    return args.flatMap((item: unknown, i) =>
      withOneHugeString(item, [...path, String(i)]).map((v) => ({ path: v.path, args: args.with(i, v.args) })),
    );
  }
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
        category: "usage",
        message: "connect: target.host: the host is 15,728,640 characters; at most 253",
        issues: [{ path: "target.host", message: "the host is 15,728,640 characters; at most 253" }],
      },
    });
  });

  it("takes a string as long as its limit and refuses one character more", () => {
    const cases: [CommandName, (s: string) => unknown, number][] = [
      ["connect", (s) => ({ target: { host: s, port: 1 } }), MAX_HOST_LENGTH],
      ["connect", (s) => ({ target: { endpoint: s } }), MAX_ENDPOINT_LENGTH],
      ["listen", (s) => ({ target: { port: 0 }, name: s }), MAX_NAME_LENGTH],
      ["openRecording", (s) => ({ path: s }), MAX_PATH_LENGTH],
      ["readProtocol", (s) => ({ path: s }), MAX_PROTOCOL_PATH_LENGTH],
      ["saveProfile", (s) => ({ name: "p", kind: "client", endpoint: "tcp:1", protocol: s }), MAX_PROTOCOL_PATH_LENGTH],
      ["send", (s) => ({ session: "s1", conn: 1, data: s, encoding: "text" }), MAX_SEND_LENGTH],
      ["saveProtocol", (s) => ({ path: "p.ts", content: s }), MAX_SOURCE_LENGTH],
      ["spawn", (s) => ({ argv: [s] }), MAX_ARGV_LENGTH],
      ["spawn", (s) => ({ argv: ["cat"], env: { A: s.slice(1) } }), MAX_ENV_LENGTH],
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
            category: "usage",
            message: "connect: target.host: the host is 15,728,640 characters; at most 253",
            issues: [{ path: "target.host", message: "the host is 15,728,640 characters; at most 253" }],
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

describe("what accepted commands can make grow is bounded", () => {
  it("keeps at most MAX_SESSIONS sessions, and says how to make room", async () => {
    const t = await startEngine();
    try {
      for (let i = 0; i < MAX_SESSIONS; i++) ok(await t.api.listen({ target: { port: 0 } }));
      const refused = await t.api.listen({ target: { port: 0 } });
      expect(!refused.ok && refused.error).toEqual({
        code: "too-many-sessions",
        category: "usage",
        message: `There are ${MAX_SESSIONS} sessions, the most the engine keeps: remove sessions you no longer need, then try again.`,
      });
      const sessions = ok(await t.api.listSessions({}));
      expect(sessions).toHaveLength(MAX_SESSIONS);
      ok(await t.api.removeSession({ session: sessions[0]!.id }));
      ok(await t.api.listen({ target: { port: 0 } }));
    } finally {
      await t.close();
    }
  });

  it("counts sessions still being created: concurrent ones stop at MAX_SESSIONS, a failed one frees its place", async () => {
    const t = await startEngine();
    try {
      for (let i = 0; i < MAX_SESSIONS - 2; i++) ok(await t.api.listen({ target: { port: 0 } }));
      const results = await Promise.all(Array.from({ length: 6 }, () => t.api.listen({ target: { port: 0 } })));
      expect(results.filter((r) => r.ok)).toHaveLength(2);
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual(
        Array(4).fill("too-many-sessions"),
      );
      expect(ok(await t.api.listSessions({}))).toHaveLength(MAX_SESSIONS);

      // A session whose protocol doesn't compile is refused while it is being created: its place is free again.
      ok(await t.api.removeSession({ session: ok(await t.api.listSessions({}))[0]!.id }));
      ok(await t.api.saveProtocol({ path: "broken.ts", content: "export class Broken extends {" }));
      const broken = await t.api.listen({ target: { port: 0 }, protocol: "broken.ts" });
      expect(!broken.ok && broken.error.code).toBe("compile-error");
      ok(await t.api.listen({ target: { port: 0 } }));
      expect(ok(await t.api.listSessions({}))).toHaveLength(MAX_SESSIONS);
    } finally {
      await t.close();
    }
  });

  it("lists at most MAX_LISTED_CONNECTIONS connections of a session, the open ones first, and counts the rest", async () => {
    const t = await startEngine();
    try {
      const listener = ok(await t.api.listen({ target: { port: 0 } }));
      const port = Number(listener.listeningOn!.split(":")[1]);
      const kept = await connectOnce(port);
      const extra = 20;
      const total = MAX_LISTED_CONNECTIONS + extra + 1;
      for (let i = 1; i < total; i++) {
        const socket = await connectOnce(port);
        socket.end("x");
      }
      await expect.poll(async () => ok(await t.api.listSessions({}))[0]!.bytesIn, { timeout: 10_000 }).toBe(total - 1);
      for (let conn = 2; conn <= total; conn++) ok(await t.api.closeConnection({ session: listener.id, conn }));
      const closedListed = async () =>
        ok(await t.api.listSessions({}))[0]!.connections.filter((c) => c.state === "closed").length;
      await expect.poll(closedListed, { timeout: 10_000 }).toBe(MAX_LISTED_CONNECTIONS - 1);
      const info = ok(await t.api.listSessions({}))[0]!;
      expect(info.connections).toHaveLength(MAX_LISTED_CONNECTIONS);
      expect(info.unlistedConnections).toBe(total - MAX_LISTED_CONNECTIONS);
      // The open one stays in the list, however old; then the newest closed ones, in order.
      const numbers = info.connections.map((c) => c.conn);
      expect(numbers[0]).toBe(1);
      expect(numbers.slice(1)).toEqual(
        Array.from({ length: MAX_LISTED_CONNECTIONS - 1 }, (_, i) => total - MAX_LISTED_CONNECTIONS + 2 + i),
      );
      // Every byte is still counted, listed or not.
      expect(info.bytesIn).toBe(total - 1);
      kept.destroy();
    } finally {
      await t.close();
    }
  });
});

describe("saved profiles are bounded", () => {
  it("keeps at most MAX_PROFILES profiles, and still replaces one that exists", async () => {
    const t = await startEngine();
    try {
      const profile = (name: string) => ({ name, kind: "client" as const, endpoint: "tcp:host=127.0.0.1:port=6379" });
      // As many as are kept, written as the workspace writes them (saving each would take seconds).
      const profiles = Array.from({ length: MAX_PROFILES }, (_, i) => profile(`p${i}`));
      fs.writeFileSync(path.join(t.workspace, PROFILES_FILE), JSON.stringify({ version: 1, profiles }));
      const refused = await t.api.saveProfile(profile("one more"));
      expect(!refused.ok && refused.error.message).toBe(
        `there are ${MAX_PROFILES.toLocaleString("en-US")} profiles, the most kept: delete some you no longer use`,
      );
      ok(await t.api.saveProfile({ ...profile("p0"), endpoint: "tcp:host=127.0.0.1:port=6380" }));
      expect(ok(await t.api.listProfiles({}))).toHaveLength(MAX_PROFILES);
    } finally {
      await t.close();
    }
  });

  it("keeps a profile as long as the contract takes: the workspace has the contract's limits", async () => {
    const t = await startEngine();
    try {
      const longest = {
        name: "n".repeat(MAX_NAME_LENGTH),
        kind: "proxy" as const,
        endpoint: `tcp:0:interface=${"a".repeat(MAX_ENDPOINT_LENGTH - "tcp:0:interface=".length)}`,
        upstream: `tcp:${"b".repeat(MAX_ENDPOINT_LENGTH - "tcp::1".length)}:1`,
        protocol: `${"p".repeat(MAX_PROTOCOL_PATH_LENGTH - ".ts".length)}.ts`,
      };
      ok(await t.api.saveProfile(longest));
      expect(ok(await t.api.listProfiles({}))).toEqual([longest]);
    } finally {
      await t.close();
    }
  });
});

describe("reasons the engine reports are bounded", () => {
  it("shows a protocol that halted on a huge error with a short reason in the session list", async () => {
    const t = await startEngine();
    try {
      const source =
        `import { Protocol } from "wirescope";\n` +
        `export default class Huge extends Protocol {\n` +
        `  override dataReceived(): void { throw new Error("x".repeat(4 * 1024 * 1024)); }\n}\n`;
      const saved = ok(await t.api.saveProtocol({ path: "huge.ts", content: source }));
      expect(saved.diagnostics).toEqual([]);
      const listener = ok(await t.api.listen({ target: { port: 0 }, protocol: "huge.ts" }));
      const socket = await connectOnce(Number(listener.listeningOn!.split(":")[1]));
      socket.write("go");
      const halted = async () => ok(await t.api.listSessions({}))[0]!.connections[0]?.protocol?.halted;
      await expect.poll(halted, { timeout: 10_000 }).toMatch(/^x+…$/);
      expect((await halted())!.length).toBe(MAX_REASON_LENGTH);
      socket.destroy();
    } finally {
      await t.close();
    }
  });
});

/** A TCP connection to 127.0.0.1:`port`, once connected. */
function connectOnce(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}
