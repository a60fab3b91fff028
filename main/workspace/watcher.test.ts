/**
 * Watching the workspace for changes made by other editors (and the app), on a real temporary folder.
 */
import { promises as fsp, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { useWorkspace } from "../../tests/helpers/workspace.ts";
import { capturesDir, profilesFile } from "./layout.ts";
import { contentHash, type WorkspaceChange } from "./watcher.ts";

const t = useWorkspace();

describe("watch", () => {
  let stop: () => void = () => {};
  let batches: WorkspaceChange[][];

  afterEach(() => stop());

  function startWatching(): void {
    batches = [];
    stop = t.ws.watch((changes) => batches.push(changes));
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
    await t.ws.write("proto.ts", "v1");
    startWatching();
    writeFileSync(path.join(t.root, "proto.ts"), "v2");
    const all = await reported([{ path: "proto.ts", hash: contentHash("v2") }]);
    expect(all).toEqual([{ path: "proto.ts", hash: contentHash("v2") }]);
  });

  it("reports a save by rename (VS Code: temp file renamed over) as one change, never as a deletion", async () => {
    await t.ws.write("proto.ts", "v1");
    startWatching();
    writeFileSync(path.join(t.root, "proto.ts.tmp-1234"), "v2");
    renameSync(path.join(t.root, "proto.ts.tmp-1234"), path.join(t.root, "proto.ts"));
    await reported([{ path: "proto.ts", hash: contentHash("v2") }]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(batches.flat()).toEqual([{ path: "proto.ts", hash: contentHash("v2") }]);
  });

  it("reports vim's save (original renamed to a backup, new file written) as a change", async () => {
    await t.ws.write("lib/proto.ts", "v1");
    startWatching();
    renameSync(path.join(t.root, "lib/proto.ts"), path.join(t.root, "lib/proto.ts~"));
    writeFileSync(path.join(t.root, "lib/proto.ts"), "v2");
    rmSync(path.join(t.root, "lib/proto.ts~"));
    await reported([{ path: "lib/proto.ts", hash: contentHash("v2") }]);
    expect(batches.flat().some((c) => c.hash === null)).toBe(false);
  });

  it("reports the app's own writes with the hash write() returned, so the caller can tell them apart", async () => {
    startWatching();
    const written = await t.ws.write("mine.ts", "by the app");
    await reported([{ path: "mine.ts", hash: written.hash }]);
  });

  it("reports files in a new folder, deletions (to the trash) and profile saves; not captures nor no-op saves", async () => {
    await t.ws.write("gone.ts", "bye");
    await t.ws.write("same.ts", "same");
    startWatching();
    await fsp.mkdir(path.join(t.root, "deep", "er"), { recursive: true });
    writeFileSync(path.join(t.root, "deep", "er", "new.ts"), "new");
    await t.ws.delete("gone.ts");
    await t.ws.saveProfile({ name: "p", kind: "listener", endpoint: "tcp:0:interface=127.0.0.1" });
    writeFileSync(path.join(capturesDir(t.root), "session.capture"), "bytes");
    writeFileSync(path.join(t.root, "same.ts"), "same");
    const profiles = readFileSync(profilesFile(t.root));
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
    await fsp.mkdir(path.join(t.root, "later"));
    writeFileSync(path.join(t.root, "later", "x.ts"), "x1");
    await reported([{ path: "later/x.ts", hash: contentHash("x1") }]);
    stop();
    const count = batches.length;
    writeFileSync(path.join(t.root, "later", "x.ts"), "x2");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(batches.length).toBe(count);
  });
});
