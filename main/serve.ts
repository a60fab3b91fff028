/**
 * `npm run serve`: browser mode. Runs the engine under plain Node and serves it over a WebSocket on 127.0.0.1 with
 * a random token (see main/adapters/ws-server.ts for who may connect). The workbench's files are served from the
 * same port once the renderer is built (renderer/dist); until then the engine is reachable by API only.
 * Runs from the sources (`tsx main/serve.ts`) and built (`node out/main/serve.js`, scripts/build-desktop.ts).
 *
 * The workspace is the one chosen in Settings (kept in the settings folder, main/settings/settings.ts, shared with
 * the desktop app and the CLI), else `<Documents>/Wirescope`; a saved one that can no longer be used (now a file,
 * unmounted, read-only) gives the default and a warning. Environment: WIRESCOPE_WORKSPACE (the workspace for this run, whatever the settings
 * say), WIRESCOPE_CONFIG_DIR (the settings folder; default `$XDG_CONFIG_HOME/wirescope` or ~/.config/wirescope),
 * WIRESCOPE_PORT (default: a free port), WIRESCOPE_TOKEN (default: random).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { startWebSocketServer } from "./adapters/ws-server.ts";
import { Engine } from "./engine/engine.ts";
import { defaultWorkspace, SettingsStore, settingsDir } from "./settings/settings.ts";
import { openStartWorkspace } from "./settings/start-workspace.ts";

// renderer/dist is ../renderer/dist from main/serve.ts, ../../renderer/dist from out/main/serve.js.
const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir =
  [path.join(here, "..", "renderer", "dist"), path.join(here, "..", "..", "renderer", "dist")].find((dir) =>
    fs.existsSync(path.join(dir, "index.html")),
  ) ?? path.join(here, "..", "renderer", "dist");
const settings = await SettingsStore.open({ dir: settingsDir(), defaultWorkspace: defaultWorkspace() });
if (settings.problem !== null) console.warn(`wirescope: settings: ${settings.problem}`);
const { root: workspaceRoot, problem } = await openStartWorkspace(settings);
if (problem !== null) console.warn(`wirescope: ${problem}`);
const engine = await Engine.open({ workspaceRoot, settings, startProblem: problem });
const server = await startWebSocketServer({
  service: engine,
  port: Number(process.env.WIRESCOPE_PORT ?? 0),
  ...(process.env.WIRESCOPE_TOKEN ? { token: process.env.WIRESCOPE_TOKEN } : {}),
  ...(fs.existsSync(staticDir) ? { staticDir } : {}),
  serviceFailed: (name, err) => console.error(`wirescope: ${name} failed:`, err),
});
engine.setEventSink(server.emit);

const app = fs.existsSync(staticDir)
  ? `Open:       ${server.origin}/?token=${server.token}`
  : "Workbench:  not built yet (renderer/dist is missing); the engine answers over the WebSocket below.";
process.stdout.write(`Wirescope is running in browser mode.
Workspace:  ${workspaceRoot}
${app}
WebSocket:  ${server.url}
Press Ctrl+C to stop.
`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  await engine.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
