/**
 * The workspace on a real temporary folder: atomic writes (with failures injected into the file system calls),
 * path checks, the trash, profiles, and watching changes made by other editors.
 */
import { mkdtempSync, promises as fsp, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { compileProtocol } from "./compiler.ts";
import {
  contentHash,
  defaultWorkspaceRoot,
  Workspace,
  WorkspaceError,
  type ConnectionProfile,
  type WorkspaceChange,
} from "./workspace.ts";

let root: string;
let ws: Workspace;

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), "wirescope-ws-"));
  ws = new Workspace(root);
  await ws.init();
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

/** Files in `dir` whose name looks like one of our temporary files. */
const temporaryFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".tmp"));

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<WorkspaceError> {
  try {
    await promise;
  } catch (err) {
    return err as WorkspaceError;
  }
  throw new Error("expected a rejection");
}

describe("files", () => {
  it("init makes the folder with a README and captures/, and leaves an edited README alone", async () => {
    expect(readFileSync(path.join(root, "README.txt"), "utf8")).toContain("Wirescope's workspace");
    writeFileSync(path.join(root, "README.txt"), "mine");
    await ws.init();
    expect(readFileSync(path.join(root, "README.txt"), "utf8")).toBe("mine");
    expect(readdirSync(root).sort()).toEqual(["README.txt", "captures"]);
  });

  it("writes, reads and lists protocols, nested ones too, skipping captures/, hidden folders and non-.ts files", async () => {
    const written = await ws.write("redis.ts", "export default 1;\n");
    await ws.write("lib/frames.ts", "export const x = 1;\n");
    writeFileSync(path.join(root, "captures", "s1.ts"), "not a protocol");
    writeFileSync(path.join(root, "notes.txt"), "");
    expect(await ws.read("redis.ts")).toBe("export default 1;\n");
    expect(written).toMatchObject({ path: "redis.ts", size: 18, hash: contentHash("export default 1;\n") });
    const listed = await ws.list();
    expect(listed.map((f) => f.path)).toEqual(["lib/frames.ts", "redis.ts"]);
    expect(listed[1]).toMatchObject({ size: 18, mtimeMs: written.mtimeMs });
  });

  it("reading a protocol that does not exist says so with NOT_FOUND", async () => {
    const err = await rejection(ws.read("nope.ts"));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toBe("there is no protocol 'nope.ts' in the workspace");
  });

  it.each([
    ["a b?.ts", "protocol names may contain letters, digits, '-', '_' and '/': got 'a b?.ts'"],
    ["../evil.ts", "protocol paths may not leave the workspace with '..': got '../evil.ts'"],
    ["lib/../../evil.ts", "may not leave the workspace"],
    ["/etc/passwd.ts", "protocol paths are relative to the workspace, such as 'redis.ts': got '/etc/passwd.ts'"],
    ["C:\\x.ts", "relative to the workspace"],
    ["a\0b.ts", "may not contain NUL characters: got 'a\\u0000b.ts'"],
    ["redis.js", "protocols are .ts files: got 'redis.js'"],
    ["", "the protocol path is empty"],
    ["lib//x.ts", "letters, digits"],
    [".hidden.ts", "letters, digits"],
    ["lib\\x.ts", "letters, digits"],
    ["captures/x.ts", "'captures/' is reserved for capture files"],
    [`${"a".repeat(300)}.ts`, "at most 200 characters"],
  ])("refuses the path %j with INVALID_PATH and an actionable message, touching nothing", async (bad, message) => {
    const attempts = [ws.write(bad, "x"), ws.read(bad), ws.delete(bad), ws.rename("a.ts", bad)];
    for (const attempt of attempts) {
      const err = await rejection(attempt);
      expect(err).toBeInstanceOf(WorkspaceError);
      expect(err.code).toBe("INVALID_PATH");
      expect(err.message).toContain(message);
    }
    // create() adds ".ts" to a bare name, so its message may differ: "redis.js" becomes "redis.js.ts".
    expect((await rejection(ws.create(bad, "echo"))).code).toBe("INVALID_PATH");
    expect(readdirSync(root).sort()).toEqual(["README.txt", "captures"]);
  });

  it("creates a file from a template with the class named after it, and never overwrites", async () => {
    const created = await ws.create("my-redis", "resp");
    expect(created.path).toBe("my-redis.ts");
    const source = await ws.read("my-redis.ts");
    expect(source).toContain("export class MyRedis extends Protocol");
    expect(source).toContain("export default MyRedis;");
    expect(created.hash).toBe(contentHash(source));
    await ws.write("mine.ts", "// my work\n");
    const taken = await rejection(ws.create("mine.ts", "echo"));
    expect(taken.code).toBe("ALREADY_EXISTS");
    expect(await ws.read("mine.ts")).toBe("// my work\n");
    expect((await rejection(ws.create("x", "raw"))).code).toBe("NO_TEMPLATE_SOURCE");
    expect((await rejection(ws.create("x", "smtp"))).code).toBe("UNKNOWN_TEMPLATE");
    expect(temporaryFiles(root)).toEqual([]);
  });

  it("creates the files a template imports beside it, and keeps ones that exist", async () => {
    await ws.create("taps/my-tap", "resp-tap");
    expect(await ws.read("taps/my-tap.ts")).toContain("export class MyTap extends Protocol");
    expect(await ws.read("taps/resp.ts")).toContain("export class RespDecoder");
    const compiled = await compileProtocol(root, "taps/my-tap.ts");
    expect(compiled.ok && compiled.inputs).toEqual(["taps/my-tap.ts", "taps/resp.ts"]);
    await ws.write("resp.ts", "// my own RESP client\n");
    await ws.create("tap", "resp-tap");
    expect(await ws.read("resp.ts")).toBe("// my own RESP client\n");
    expect((await ws.list()).map((f) => f.path)).toEqual(["resp.ts", "tap.ts", "taps/my-tap.ts", "taps/resp.ts"]);
  });

  it("keeps the template's class name when the file's name would clash with the core's", async () => {
    await ws.create("line-receiver", "line");
    expect(await ws.read("line-receiver.ts")).toContain("export class LineProtocol extends LineReceiver");
  });

  it("renames without ever overwriting", async () => {
    await ws.write("a.ts", "A");
    await ws.write("b.ts", "B");
    expect((await rejection(ws.rename("a.ts", "b.ts"))).code).toBe("ALREADY_EXISTS");
    expect(await ws.read("b.ts")).toBe("B");
    await ws.rename("a.ts", "lib/c.ts");
    expect(await ws.read("lib/c.ts")).toBe("A");
    expect((await ws.list()).map((f) => f.path)).toEqual(["b.ts", "lib/c.ts"]);
    expect((await rejection(ws.rename("a.ts", "d.ts"))).code).toBe("NOT_FOUND");
  });

  it("delete moves the file to .trash with its content, where list() no longer sees it", async () => {
    await ws.write("lib/old.ts", "precious");
    const trashed = await ws.delete("lib/old.ts");
    expect(trashed).toMatch(/^\.trash\/[^/]+\/lib\/old\.ts$/);
    expect(readFileSync(path.join(root, trashed), "utf8")).toBe("precious");
    expect(await ws.list()).toEqual([]);
    expect((await rejection(ws.delete("lib/old.ts"))).code).toBe("NOT_FOUND");
  });
});

describe("atomic writes", () => {
  it("keeps the old content when the rename fails, and leaves no temporary file", async () => {
    await ws.write("proto.ts", "old content");
    vi.spyOn(fsp, "rename").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" }));
    const err = await rejection(ws.write("proto.ts", "new content"));
    expect(err.code).toBe("WRITE_FAILED");
    expect(err.message).toBe("could not save 'proto.ts': EIO: i/o error, rename; the previous version is unchanged");
    expect(readFileSync(path.join(root, "proto.ts"), "utf8")).toBe("old content");
    expect(temporaryFiles(root)).toEqual([]);
  });

  it("keeps the old content when the disk fills up half way through the write", async () => {
    await ws.write("proto.ts", "old content");
    const open = fsp.open.bind(fsp);
    vi.spyOn(fsp, "open").mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const handle: FileHandle = await open(...args);
      if (String(args[0]).endsWith(".tmp")) {
        handle.writeFile = async (data) => {
          await handle.write(String(data).slice(0, 3));
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        };
      }
      return handle;
    });
    const err = await rejection(ws.write("proto.ts", "new content that does not fit"));
    expect(err.code).toBe("WRITE_FAILED");
    expect(err.message).toContain("ENOSPC");
    expect(readFileSync(path.join(root, "proto.ts"), "utf8")).toBe("old content");
    expect(temporaryFiles(root)).toEqual([]);
  });

  it("keeps the file's mode across saves", async () => {
    await ws.write("proto.ts", "v1");
    await fsp.chmod(path.join(root, "proto.ts"), 0o600);
    await ws.write("proto.ts", "v2");
    expect((await fsp.stat(path.join(root, "proto.ts"))).mode & 0o777).toBe(0o600);
  });

  const isRoot = process.getuid?.() === 0;
  it.skipIf(isRoot)(
    "keeps the old content in a read-only folder (skipped as root: root ignores permissions)",
    async () => {
      await ws.write("lib/proto.ts", "old content");
      await fsp.chmod(path.join(root, "lib"), 0o555);
      try {
        expect((await rejection(ws.write("lib/proto.ts", "new"))).code).toBe("WRITE_FAILED");
        expect(readFileSync(path.join(root, "lib", "proto.ts"), "utf8")).toBe("old content");
      } finally {
        await fsp.chmod(path.join(root, "lib"), 0o755);
      }
    },
  );
});

describe("profiles", () => {
  const redis: ConnectionProfile = { name: "redis", kind: "client", endpoint: "tcp:host=127.0.0.1:port=6379" };
  const proxy: ConnectionProfile = {
    name: "mitm",
    kind: "proxy",
    endpoint: "tcp:0:interface=127.0.0.1",
    upstream: "tcp:host=127.0.0.1:port=6379",
    protocol: "resp.ts",
  };

  it("round-trips, replaces by name, keeps the order, and deletes", async () => {
    expect(await ws.listProfiles()).toEqual([]);
    await ws.saveProfile(redis);
    await ws.saveProfile(proxy);
    await ws.saveProfile({ ...redis, endpoint: "tcp:host=127.0.0.1:port=6380" });
    expect(await ws.listProfiles()).toEqual([{ ...redis, endpoint: "tcp:host=127.0.0.1:port=6380" }, proxy]);
    expect(JSON.parse(readFileSync(path.join(root, "profiles.json"), "utf8"))).toMatchObject({ version: 1 });
    await ws.deleteProfile("redis");
    expect(await ws.listProfiles()).toEqual([proxy]);
    expect((await rejection(ws.deleteProfile("redis"))).code).toBe("NOT_FOUND");
  });

  it("does not lose a save made at the same time as another", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => ws.saveProfile({ ...redis, name: `p${i}` })));
    expect((await ws.listProfiles()).map((p) => p.name)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
    expect(temporaryFiles(root)).toEqual([]);
  });

  it.each([
    [{ ...redis, kind: "server" }, "a profile's kind is one of client, listener, proxy: got server"],
    [{ ...redis, name: "" }, "a profile's name must be a non-empty line"],
    [{ ...proxy, upstream: undefined }, "proxy profile 'mitm' needs an upstream endpoint to forward to"],
    [{ ...redis, protocol: "../x.ts" }, "profile 'redis': protocol paths may not leave the workspace"],
  ])("refuses an invalid profile with INVALID_PROFILE (%#)", async (bad, message) => {
    const err = await rejection(ws.saveProfile(bad as ConnectionProfile));
    expect(err.code).toBe("INVALID_PROFILE");
    expect(err.message).toContain(message);
  });

  it("refuses to overwrite a profiles.json it cannot read, and leaves it as it is", async () => {
    writeFileSync(path.join(root, "profiles.json"), "{ half-edited");
    expect((await rejection(ws.listProfiles())).code).toBe("CORRUPT_PROFILES");
    const err = await rejection(ws.saveProfile(redis));
    expect(err.code).toBe("CORRUPT_PROFILES");
    expect(err.message).toContain("fix or remove it");
    expect(readFileSync(path.join(root, "profiles.json"), "utf8")).toBe("{ half-edited");
  });
});

describe("watch", () => {
  let stop: () => void = () => {};
  let batches: WorkspaceChange[][];

  afterEach(() => stop());

  function startWatching(): void {
    batches = [];
    stop = ws.watch((changes) => batches.push(changes));
  }

  /** Waits (up to a second) until the changes reported so far include `expected`. */
  async function reported(expected: WorkspaceChange[]): Promise<WorkspaceChange[]> {
    const deadline = Date.now() + 1000;
    for (;;) {
      const all = batches.flat();
      if (expected.every((e) => all.some((c) => c.path === e.path && c.hash === e.hash))) return all;
      if (Date.now() > deadline) throw new Error(`not reported within 1 s: ${JSON.stringify({ expected, all })}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("reports a save by another editor, in place, with the new content's hash", async () => {
    await ws.write("proto.ts", "v1");
    startWatching();
    writeFileSync(path.join(root, "proto.ts"), "v2");
    const all = await reported([{ path: "proto.ts", hash: contentHash("v2") }]);
    expect(all).toEqual([{ path: "proto.ts", hash: contentHash("v2") }]);
  });

  it("reports a save by rename (VS Code: temp file renamed over) as one change, never as a deletion", async () => {
    await ws.write("proto.ts", "v1");
    startWatching();
    writeFileSync(path.join(root, "proto.ts.tmp-1234"), "v2");
    renameSync(path.join(root, "proto.ts.tmp-1234"), path.join(root, "proto.ts"));
    await reported([{ path: "proto.ts", hash: contentHash("v2") }]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(batches.flat()).toEqual([{ path: "proto.ts", hash: contentHash("v2") }]);
  });

  it("reports vim's save (original renamed to a backup, new file written) as a change", async () => {
    await ws.write("lib/proto.ts", "v1");
    startWatching();
    renameSync(path.join(root, "lib/proto.ts"), path.join(root, "lib/proto.ts~"));
    writeFileSync(path.join(root, "lib/proto.ts"), "v2");
    rmSync(path.join(root, "lib/proto.ts~"));
    await reported([{ path: "lib/proto.ts", hash: contentHash("v2") }]);
    expect(batches.flat().some((c) => c.hash === null)).toBe(false);
  });

  it("reports the app's own writes with the hash write() returned, so the caller can tell them apart", async () => {
    startWatching();
    const written = await ws.write("mine.ts", "by the app");
    await reported([{ path: "mine.ts", hash: written.hash }]);
  });

  it("reports files in a new folder, deletions (to the trash) and profile saves; not captures nor no-op saves", async () => {
    await ws.write("gone.ts", "bye");
    await ws.write("same.ts", "same");
    startWatching();
    await fsp.mkdir(path.join(root, "deep", "er"), { recursive: true });
    writeFileSync(path.join(root, "deep", "er", "new.ts"), "new");
    await ws.delete("gone.ts");
    await ws.saveProfile({ name: "p", kind: "listener", endpoint: "tcp:0:interface=127.0.0.1" });
    writeFileSync(path.join(root, "captures", "session.capture"), "bytes");
    writeFileSync(path.join(root, "same.ts"), "same");
    const profiles = readFileSync(path.join(root, "profiles.json"));
    await reported([
      { path: "deep/er/new.ts", hash: contentHash("new") },
      { path: "gone.ts", hash: null },
      { path: "profiles.json", hash: contentHash(profiles) },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(new Set(batches.flat().map((c) => c.path))).toEqual(new Set(["deep/er/new.ts", "gone.ts", "profiles.json"]));
  });

  it("watches a folder created after it started, and stops when asked", async () => {
    startWatching();
    await fsp.mkdir(path.join(root, "later"));
    writeFileSync(path.join(root, "later", "x.ts"), "x1");
    await reported([{ path: "later/x.ts", hash: contentHash("x1") }]);
    stop();
    const count = batches.length;
    writeFileSync(path.join(root, "later", "x.ts"), "x2");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(batches.length).toBe(count);
  });
});

describe("defaultWorkspaceRoot", () => {
  it("is $WIRESCOPE_WORKSPACE, else <documents>/Wirescope from the shell, $XDG_DOCUMENTS_DIR or ~/Documents", () => {
    expect(defaultWorkspaceRoot({ env: { WIRESCOPE_WORKSPACE: "/srv/ws" }, documentsDir: "/d" })).toBe("/srv/ws");
    expect(defaultWorkspaceRoot({ env: { XDG_DOCUMENTS_DIR: "/x" }, documentsDir: "/d" })).toBe("/d/Wirescope");
    expect(defaultWorkspaceRoot({ env: { XDG_DOCUMENTS_DIR: "/x" } })).toBe("/x/Wirescope");
    expect(defaultWorkspaceRoot({ env: {}, homeDir: "/home/u" })).toBe("/home/u/Documents/Wirescope");
  });
});
