/**
 * The contract under fuzzing, over the real WebSocket adapter to a real engine: arguments of the wrong type, odd and
 * huge strings (unicode, NUL, lone surrogates, over 1 MiB), unknown command names, frames that are not requests,
 * deep nesting and big arrays. After every case the same connection still gets an answer to listSessions; a frame
 * over the size limit is the one thing that closes it, with a reason a person can read. At the end, after a full
 * GC, what the engine keeps (heap and external memory) is back near where it was, and the process's resident memory
 * has not grown by more than MAX_RSS_GROWTH (the allocator keeps some of the peak: 56 to 154 MiB over 13 runs here,
 * while the heap and external memory came back within 3 MiB).
 *
 * Sized for two shared cores: numRuns and string sizes keep the file well under a minute.
 */
import fc from "fast-check";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PAYLOAD } from "../../main/adapters/ws-server.ts";
import { commands, type CommandName } from "../../preload/contract.ts";
import { MAX_NAME_LENGTH, MAX_QUOTED_LENGTH, MAX_REASON_LENGTH } from "../../preload/limits.ts";
import { startEngine, type EngineUnderTest } from "../helpers/engine.ts";
import { RawClient, type RawReply } from "./raw-client.ts";
import { contractSamples } from "./suite.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const MiB = 1024 * 1024;
/** How much the process's resident memory may grow over the whole file, after a full GC. */
const MAX_RSS_GROWTH = 250 * MiB;
/** How much the heap and external memory may grow over the whole file, after a full GC: nothing is kept. */
const MAX_KEPT_GROWTH = 50 * MiB;
const commandNames = Object.keys(commands) as CommandName[];

let t: EngineUnderTest;
let client: RawClient;
let before: NodeJS.MemoryUsage;
let nextId = 1;

beforeAll(async () => {
  t = await startEngine();
  client = await RawClient.open(t.url);
  gc();
  before = process.memoryUsage();
});

afterAll(async () => {
  client?.close();
  await t?.close();
});

/** Sends `cmd` with `args` (any JSON) as a request with a fresh id; the reply must carry that id. */
async function call(cmd: unknown, args: unknown): Promise<RawReply["result"]> {
  const id = nextId++;
  const reply = await client.send(JSON.stringify({ id, cmd, args }));
  expect(reply.id).toBe(id);
  return reply.result;
}

/** What must hold after every case: the same connection gets a valid answer to a valid command. */
async function stillAnswers(): Promise<void> {
  const result = await call("listSessions", {});
  expect(result.ok).toBe(true);
  expect(Array.isArray(result.ok && result.value)).toBe(true);
}

/** An error a person can read: a code and a short message that quotes little of what was sent. */
function expectShortError(result: RawReply["result"]): void {
  if (result.ok) return;
  expect(typeof result.error.code).toBe("string");
  expect(result.error.message.length).toBeLessThanOrEqual(MAX_REASON_LENGTH + 100);
}

/** Removes every session (so that cases that made some do not fill the engine). */
async function removeAll(): Promise<void> {
  const list = await call("listSessions", {});
  for (const session of (list.ok ? list.value : []) as { id: string }[]) {
    await call("removeSession", { session: session.id });
  }
}

/** Strings that are valid JSON text but odd: unicode of every plane, NUL, lone surrogates, bidi marks, huge. */
const oddString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
  fc.constantFrom("", "\0", "a\0b", "\ud800", "x\udfff", "\u202e\u0301", "💥".repeat(300), " \t\r\n "),
  fc.integer({ min: MiB, max: MiB + 4096 }).map((n) => "é".repeat(n)),
);

/** Values of any JSON type but the one a field has (never undefined, which would make an optional field vanish). */
function wrongType(sample: unknown): fc.Arbitrary<unknown> {
  const others: fc.Arbitrary<unknown>[] = [
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
  ];
  if (typeof sample !== "string") others.push(oddString);
  if (typeof sample !== "number")
    others.push(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })));
  if (typeof sample !== "boolean") others.push(fc.boolean());
  return fc.oneof(...others);
}

/** Every primitive leaf of `value`: its path and what it holds. */
function leaves(value: unknown, path: string[] = []): { path: string[]; value: unknown }[] {
  if (typeof value !== "object" || value === null) return [{ path, value }];
  if (value instanceof Uint8Array) return [];
  return Object.entries(value).flatMap(([key, item]) => leaves(item, [...path, key]));
}

/** `value` with the leaf at `path` replaced by `replacement`. */
function replaced(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const record = value as Record<string, unknown>;
  return { ...record, [path[0]!]: replaced(record[path[0]!], path.slice(1), replacement) };
}

/**
 * Commands whose string fields may receive any odd string that passes their schema without doing anything a test
 * must avoid (a DNS lookup of a random host, a file written or deleted outside the workspace): they name sessions,
 * connections, protocol files to read, or bytes to send.
 */
const SAFE_FOR_ANY_STRING: CommandName[] = [
  "reconnect",
  "closeSession",
  "removeSession",
  "closeConnection",
  "abortConnection",
  "halfCloseConnection",
  "send",
  "readTimeline",
  "readProtocol",
  "openConversation",
  "replayReport",
  "deleteProfile",
];

describe("the contract over the WebSocket, fuzzed", () => {
  it("answers arguments that are not an object with invalid-arguments, for every command", async () => {
    const notAnObject = fc.oneof(fc.string({ maxLength: 16 }), fc.integer(), fc.boolean(), fc.array(fc.jsonValue()));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...commandNames), notAnObject, async (cmd, args) => {
        const result = await call(cmd, args);
        expect(!result.ok && result.error.code).toBe("invalid-arguments");
        expectShortError(result);
        await stillAnswers();
      }),
      { numRuns: 100 },
    );
  });

  it("answers a field of the wrong type in any command with a short error, and goes on", async () => {
    const cases = commandNames.flatMap((cmd) =>
      leaves(contractSamples[cmd].args).map((leaf) => ({ cmd, path: leaf.path, sample: leaf.value })),
    );
    const arbitrary = fc.constantFrom(...cases).chain((c) => wrongType(c.sample).map((value) => ({ ...c, value })));
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ cmd, path, value }) => {
        const result = await call(cmd, replaced(contractSamples[cmd].args, path, value));
        expectShortError(result);
        await stillAnswers();
      }),
      { numRuns: 150 },
    );
    await removeAll();
  });

  it("takes odd and huge strings in the fields that name things, and never echoes more than a little of them", async () => {
    const cases = SAFE_FOR_ANY_STRING.flatMap((cmd) =>
      leaves(contractSamples[cmd].args)
        .filter((leaf) => typeof leaf.value === "string")
        .map((leaf) => ({ cmd, path: leaf.path })),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...cases), oddString, async ({ cmd, path }, value) => {
        const result = await call(cmd, replaced(contractSamples[cmd].args, path, value));
        expectShortError(result);
        if (!result.ok && value.length > MAX_QUOTED_LENGTH) expect(result.error.message).not.toContain(value);
        await stillAnswers();
      }),
      { numRuns: 100 },
    );
  });

  it("gives back a session's name exactly as it was given, whatever its characters", async () => {
    const name = oddString.filter((s) => s.length <= MAX_NAME_LENGTH);
    await fc.assert(
      fc.asyncProperty(name, async (given) => {
        const made = await call("listen", { target: { port: 0 }, name: given });
        expect(made.ok).toBe(true);
        const id = (made.ok && (made.value as { id: string }).id) as string;
        const list = await call("listSessions", {});
        const listed = (list.ok ? list.value : []) as { id: string; name: string }[];
        expect(listed.find((s) => s.id === id)?.name).toBe(given);
        expect((await call("removeSession", { session: id })).ok).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("answers unknown command names with unknown-command, quoting at most a little of them", async () => {
    const name = fc.oneof(
      oddString,
      fc.constantFrom("toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "LISTSESSIONS"),
    );
    await fc.assert(
      fc.asyncProperty(
        name.filter((n) => !Object.prototype.hasOwnProperty.call(commands, n)),
        fc.jsonValue({ maxDepth: 2 }),
        async (cmd, args) => {
          const result = await call(cmd, args);
          expect(!result.ok && result.error.code).toBe("unknown-command");
          expect(!result.ok && result.error.message.length).toBeLessThan(120);
          await stillAnswers();
        },
      ),
      { numRuns: 40 },
    );
  });

  it("answers frames that are not requests, however nested or big, and keeps the connection", async () => {
    const nested = (depth: number, inner: string) => "[".repeat(depth) + inner + "]".repeat(depth);
    const frame = fc.oneof(
      fc.string({ unit: "binary", maxLength: 64 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .oneof(fc.constant(null), fc.boolean(), fc.dictionary(fc.string(), fc.integer()), fc.string({ minLength: 129 }))
        .map((id) => JSON.stringify({ id, cmd: "listSessions", args: {} })),
      fc.integer().map((cmd) => JSON.stringify({ id: 1, cmd, args: {} })),
      fc
        .integer({ min: 1001, max: 50_000 })
        .map((depth) => `{"id":1,"cmd":"connect","args":${nested(depth, '{"$bytes":"AQI="}')}}`),
      fc
        .integer({ min: 1001, max: 50_000 })
        .map((depth) => `{"id":1,"cmd":"connect","args":{"target":${nested(depth, "1")}}}`),
      fc.integer({ min: 100_000, max: 300_000 }).map((n) => `{"id":1,"cmd":"send","args":[${"0,".repeat(n)}0]}`),
      fc.integer({ min: 10_000, max: 50_000 }).map((n) =>
        JSON.stringify({
          id: 1,
          cmd: "listSessions",
          args: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])),
        }),
      ),
      fc.constantFrom('{"id":1,"cmd":"importCapture","args":{"name":"a.pcap","data":{"$bytes":"not base64!"}}}'),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const reply = await client.send(text);
        expect(reply.result.ok).toBe(false);
        expectShortError(reply.result);
        await stillAnswers();
      }),
      { numRuns: 60 },
    );
  });

  it("closes a connection that sends a frame over the limit with a reason, and serves the next one", async () => {
    const big = await RawClient.open(t.url);
    const reply = big.send(JSON.stringify({ id: 1, cmd: "send", args: { data: "x".repeat(MAX_PAYLOAD) } }));
    await expect(reply).rejects.toThrow(/closed/);
    expect(await big.closed).toEqual({ code: 1009, reason: `message too big: the limit is ${MAX_PAYLOAD} bytes` });
    await stillAnswers();
    const again = await RawClient.open(t.url);
    const id = nextId++;
    expect((await again.send(JSON.stringify({ id, cmd: "listSessions", args: {} }))).result.ok).toBe(true);
    again.close();
  });

  it("leaves the process's memory where it was", async () => {
    await removeAll();
    gc();
    const after = process.memoryUsage();
    const kept = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;
    expect(kept(after) - kept(before)).toBeLessThan(MAX_KEPT_GROWTH);
    expect(after.rss - before.rss).toBeLessThan(MAX_RSS_GROWTH);
  });
});
