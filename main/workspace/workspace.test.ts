/**
 * The workspace's protocol files on a real temporary folder: atomic writes (with failures injected into the file
 * system calls), path checks, templates and the trash.
 */
import { promises as fsp, readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rejection, temporaryFiles, useWorkspace } from "../../tests/helpers/workspace.ts";
import { compileProtocol } from "./compiler.ts";
import { WorkspaceError } from "./errors.ts";
import { capturesDir, readmeFile } from "./layout.ts";
import { contentHash } from "./watcher.ts";

const t = useWorkspace();

afterEach(() => {
  vi.restoreAllMocks();
});

describe("files", () => {
  it("init makes the folder with a README and captures/, and leaves an edited README alone", async () => {
    expect(readFileSync(readmeFile(t.root), "utf8")).toContain("Wirescope's workspace");
    writeFileSync(readmeFile(t.root), "mine");
    await t.ws.init();
    expect(readFileSync(readmeFile(t.root), "utf8")).toBe("mine");
    expect(readdirSync(t.root).sort()).toEqual(["README.txt", "captures"]);
  });

  it("writes, reads and lists protocols, nested ones too, skipping captures/, hidden folders and non-.ts files", async () => {
    const written = await t.ws.write("redis.ts", "export default 1;\n");
    await t.ws.write("lib/frames.ts", "export const x = 1;\n");
    writeFileSync(path.join(capturesDir(t.root), "s1.ts"), "not a protocol");
    writeFileSync(path.join(t.root, "notes.txt"), "");
    expect(await t.ws.read("redis.ts")).toBe("export default 1;\n");
    expect(written).toMatchObject({ path: "redis.ts", size: 18, hash: contentHash("export default 1;\n") });
    const listed = await t.ws.list();
    expect(listed.map((f) => f.path)).toEqual(["lib/frames.ts", "redis.ts"]);
    expect(listed[1]).toMatchObject({ size: 18, mtimeMs: written.mtimeMs });
  });

  it("reading a protocol that does not exist says so with not-found", async () => {
    const err = await rejection(t.ws.read("nope.ts"));
    expect(err.code).toBe("not-found");
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
  ])("refuses the path %j with invalid-path and an actionable message, touching nothing", async (bad, message) => {
    const attempts = [t.ws.write(bad, "x"), t.ws.read(bad), t.ws.delete(bad), t.ws.rename("a.ts", bad)];
    for (const attempt of attempts) {
      const err = await rejection(attempt);
      expect(err).toBeInstanceOf(WorkspaceError);
      expect(err.code).toBe("invalid-path");
      expect(err.message).toContain(message);
    }
    // create() adds ".ts" to a bare name, so its message may differ: "redis.js" becomes "redis.js.ts".
    expect((await rejection(t.ws.create(bad, "echo"))).code).toBe("invalid-path");
    expect(readdirSync(t.root).sort()).toEqual(["README.txt", "captures"]);
  });

  it("creates a file from a template with the class named after it, and never overwrites", async () => {
    const created = await t.ws.create("my-redis", "resp");
    expect(created.path).toBe("my-redis.ts");
    const source = await t.ws.read("my-redis.ts");
    expect(source).toContain("export class MyRedis extends Protocol");
    expect(source).toContain("export default MyRedis;");
    expect(created.hash).toBe(contentHash(source));
    await t.ws.write("mine.ts", "// my work\n");
    const taken = await rejection(t.ws.create("mine.ts", "echo"));
    expect(taken.code).toBe("already-exists");
    expect(await t.ws.read("mine.ts")).toBe("// my work\n");
    expect((await rejection(t.ws.create("x", "raw"))).code).toBe("no-template-source");
    expect((await rejection(t.ws.create("x", "gopher"))).code).toBe("unknown-template");
    expect(temporaryFiles(t.root)).toEqual([]);
  });

  it("creates the files a template imports beside it, and keeps ones that exist", async () => {
    await t.ws.create("taps/my-tap", "resp-tap");
    expect(await t.ws.read("taps/my-tap.ts")).toContain("export class MyTap extends Tap");
    expect(await t.ws.read("taps/resp.ts")).toContain("export class RespDecoder");
    const compiled = await compileProtocol(t.root, "taps/my-tap.ts");
    expect(compiled.ok && compiled.inputs).toEqual(["taps/my-tap.ts", "taps/resp.ts"]);
    await t.ws.write("resp.ts", "// my own RESP client\n");
    await t.ws.create("tap", "resp-tap");
    expect(await t.ws.read("resp.ts")).toBe("// my own RESP client\n");
    expect((await t.ws.list()).map((f) => f.path)).toEqual(["resp.ts", "tap.ts", "taps/my-tap.ts", "taps/resp.ts"]);
  });

  it("keeps the template's class name when the file's name would clash with the core's", async () => {
    await t.ws.create("line-receiver", "line");
    expect(await t.ws.read("line-receiver.ts")).toContain("export class LineProtocol extends LineReceiver");
  });

  it("renames without ever overwriting", async () => {
    await t.ws.write("a.ts", "A");
    await t.ws.write("b.ts", "B");
    expect((await rejection(t.ws.rename("a.ts", "b.ts"))).code).toBe("already-exists");
    expect(await t.ws.read("b.ts")).toBe("B");
    await t.ws.rename("a.ts", "lib/c.ts");
    expect(await t.ws.read("lib/c.ts")).toBe("A");
    expect((await t.ws.list()).map((f) => f.path)).toEqual(["b.ts", "lib/c.ts"]);
    expect((await rejection(t.ws.rename("a.ts", "d.ts"))).code).toBe("not-found");
  });

  it("delete moves the file to .trash with its content, where list() no longer sees it", async () => {
    await t.ws.write("lib/old.ts", "precious");
    const trashed = await t.ws.delete("lib/old.ts");
    expect(trashed).toMatch(/^\.trash\/[^/]+\/lib\/old\.ts$/);
    expect(readFileSync(path.join(t.root, trashed), "utf8")).toBe("precious");
    expect(await t.ws.list()).toEqual([]);
    expect((await rejection(t.ws.delete("lib/old.ts"))).code).toBe("not-found");
  });
});

describe("atomic writes", () => {
  it("keeps the old content when the rename fails, and leaves no temporary file", async () => {
    await t.ws.write("proto.ts", "old content");
    vi.spyOn(fsp, "rename").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" }));
    const err = await rejection(t.ws.write("proto.ts", "new content"));
    expect(err.code).toBe("write-failed");
    expect(err.message).toBe("could not save 'proto.ts': EIO: i/o error, rename; the previous version is unchanged");
    expect(readFileSync(path.join(t.root, "proto.ts"), "utf8")).toBe("old content");
    expect(temporaryFiles(t.root)).toEqual([]);
  });

  it("keeps the old content when the disk fills up half way through the write", async () => {
    await t.ws.write("proto.ts", "old content");
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
    const err = await rejection(t.ws.write("proto.ts", "new content that does not fit"));
    expect(err.code).toBe("write-failed");
    expect(err.message).toContain("ENOSPC");
    expect(readFileSync(path.join(t.root, "proto.ts"), "utf8")).toBe("old content");
    expect(temporaryFiles(t.root)).toEqual([]);
  });

  it("keeps the file's mode across saves", async () => {
    await t.ws.write("proto.ts", "v1");
    await fsp.chmod(path.join(t.root, "proto.ts"), 0o600);
    await t.ws.write("proto.ts", "v2");
    expect((await fsp.stat(path.join(t.root, "proto.ts"))).mode & 0o777).toBe(0o600);
  });

  const isRoot = process.getuid?.() === 0;
  it.skipIf(isRoot)(
    "keeps the old content in a read-only folder (skipped as root: root ignores permissions)",
    async () => {
      await t.ws.write("lib/proto.ts", "old content");
      await fsp.chmod(path.join(t.root, "lib"), 0o555);
      try {
        expect((await rejection(t.ws.write("lib/proto.ts", "new"))).code).toBe("write-failed");
        expect(readFileSync(path.join(t.root, "lib", "proto.ts"), "utf8")).toBe("old content");
      } finally {
        await fsp.chmod(path.join(t.root, "lib"), 0o755);
      }
    },
  );
});
