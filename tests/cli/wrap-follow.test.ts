/**
 * The workbench's engine following a real `wirescope wrap` (the CLI run through tsx, a child process of the test)
 * while it runs: what the program and the command say to each other shows on the reopened session as it happens,
 * and the session stops following when wrap ends — cleanly (the capture's close) or killed (its process gone, said
 * on the session). Every wait is bounded.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Engine } from "../../main/engine/engine.ts";
import type { SessionInfo } from "../../preload/contract.ts";
import { startCli, useWorkspace, type BackgroundCli } from "./cli-process.ts";

const ws = useWorkspace();
/** The engine's own workspace: its copy of the followed capture lands there, apart from wrap's. */
let engineRoot: string;
let engine: Engine;
beforeEach(async () => {
  engineRoot = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-follower-"));
  engine = await Engine.open({ workspaceRoot: engineRoot });
});
afterEach(async () => {
  await engine.close();
  fs.rmSync(engineRoot, { recursive: true, force: true });
});

/** The session `id` once `ok` holds for it, polled every 50 ms for at most 15 s. */
async function sessionWhen(id: string, ok: (s: SessionInfo) => boolean): Promise<SessionInfo> {
  let last: SessionInfo | undefined;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    last = (await engine.listSessions()).find((s) => s.id === id);
    if (last !== undefined && ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the session never got there; last seen: ${JSON.stringify(last)}`);
}

/** The data on the session's timeline, as "stdin hello" / "stdout hello" lines; its lifecycle events by name. */
async function timelineOf(id: string): Promise<{ data: string[]; events: string[] }> {
  const { events } = await engine.readTimeline({ session: id, from: 0, count: 1000 });
  const pipe = (fd: number | undefined) => ["stdin", "stdout", "stderr"][fd ?? -1] ?? `fd ${fd}`;
  return {
    data: events.flatMap((e) => (e.kind === "data" ? [`${pipe(e.fd)} ${new TextDecoder().decode(e.data)}`] : [])),
    events: events.flatMap((e) => (e.kind === "lifecycle" ? [e.event] : [])),
  };
}

/** Starts `wrap -- cat` with "first" on its stdin, which stays open; resolves once cat has answered it. */
async function wrapCat(): Promise<{ cli: BackgroundCli; capture: string }> {
  const cli = startCli(["wrap", "--name", "wrapped-cat", "--", "cat"], {
    workspace: ws.path,
    input: "first\n",
    keepStdinOpen: true,
  });
  // The first answer waits for the CLI to start (tsx compiles it), which is slow on a loaded machine.
  await cli.waitForOutput(/^first$/m, 45_000);
  const folder = path.join(ws.path, "captures");
  const files = fs.readdirSync(folder).filter((f) => f.endsWith(".wscap"));
  expect(files, "wrap's one capture").toHaveLength(1);
  return { cli, capture: path.join(folder, files[0]!) };
}

describe("following a running wirescope wrap", () => {
  it("shows the conversation as it happens, until wrap closes its capture", async () => {
    const { cli, capture } = await wrapCat();
    const opened = await engine.openRecording({ path: capture });

    cli.child.stdin!.write("second\n");
    await cli.waitForOutput(/^second$/m);
    const live = await sessionWhen(opened.id, (s) => s.following === true && s.bytesIn === 13);
    expect(live.name).toBe("wrapped-cat");
    expect(live.connections.map((c) => c.state)).toEqual(["connected"]);
    expect((await timelineOf(opened.id)).data).toEqual([
      "stdin first\n",
      "stdout first\n",
      "stdin second\n",
      "stdout second\n",
    ]);

    cli.child.stdin!.end();
    const done = await sessionWhen(opened.id, (s) => s.following === undefined && s.connections[0]?.state === "closed");
    expect(done.error).toBeUndefined();
    const { events } = await timelineOf(opened.id);
    expect(events).toEqual(expect.arrayContaining(["spawned", "exited", "ended", "closed"]));
  }, 90_000);

  it("stops following once wrap was killed without closing its capture, and says so", async () => {
    const { cli, capture } = await wrapCat();
    const opened = await engine.openRecording({ path: capture });
    cli.child.stdin!.write("second\n");
    await sessionWhen(opened.id, (s) => s.following === true && s.bytesIn === 13);

    const pid = cli.child.pid;
    await cli.stop("SIGKILL").catch(() => {});
    const stopped = await sessionWhen(opened.id, (s) => s.following === undefined);
    expect(stopped.error).toMatch(
      new RegExp(`^Following the capture stopped: its writer \\(process ${pid}\\) is no longer running`),
    );
    expect(
      stopped.connections.map((c) => c.state),
      "cat's pipes end where the capture ends",
    ).toEqual(["closed"]);
    const { events } = await timelineOf(opened.id);
    expect(events.at(-1), "the timeline says it too").toBe("error");
  }, 90_000);
});
