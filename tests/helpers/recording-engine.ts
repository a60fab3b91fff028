/**
 * A recording engine in a process of its own, for tests that kill it: `node --import tsx recording-engine.ts
 * <workspace>` opens an engine on that workspace and starts a raw listener on 127.0.0.1 (port 0); once it listens
 * it prints one JSON line, {"port":N,"capture":"<its .wscap>"}, and records until it is stopped. It never closes
 * the engine itself: what a kill leaves on disk is the point.
 */
import { Engine } from "../../main/engine/engine.ts";

const workspaceRoot = process.argv[2];
if (workspaceRoot === undefined) {
  process.stderr.write("usage: recording-engine.ts <workspace>\n");
  process.exit(2);
}
const engine = await Engine.open({ workspaceRoot });
const session = await engine.listen({ target: { port: 0 }, protocol: null });
const port = Number(session.listeningOn!.split(":").pop());
process.stdout.write(`${JSON.stringify({ port, capture: engine.captureFileOf(session.id) })}\n`);
