/**
 * Which workspace an app instance opens at start, checked before the engine sees it. The saved one can have gone
 * bad since it was chosen (now a file, on a disk no longer mounted, read-only): then the app starts on the default
 * workspace and says why (`problem`), so the user reaches Settings and can choose again. Called once at start by
 * the desktop shell (main/shell/app.ts) and browser mode (main/serve.ts).
 */
import { openWorkspaceFolder } from "./workspace-folder.ts";
import type { SettingsStore } from "./settings.ts";

/** The workspace to hand to Engine.open, and why it is not the saved one (null when it is). */
export interface StartWorkspace {
  /** The workspace folder, checked and laid out (README.txt, captures/). */
  root: string;
  /** Why the saved workspace was not used, for a person to read; null when nothing went wrong. */
  problem: string | null;
}

/**
 * Opens the workspace `settings.startWorkspace(env)` names (openWorkspaceFolder: created when missing). When the
 * saved choice cannot be used, falls back to the default workspace with a `problem`. `$WIRESCOPE_WORKSPACE` gets no
 * fallback: whoever set it for this run is told (the error is thrown), not silently moved elsewhere. Throws too
 * when the default workspace itself cannot be used: there is nowhere left to start.
 */
export async function openStartWorkspace(
  settings: SettingsStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartWorkspace> {
  const wanted = settings.startWorkspace(env);
  try {
    return { root: (await openWorkspaceFolder(wanted)).root, problem: null };
  } catch (err) {
    if (env.WIRESCOPE_WORKSPACE || wanted === settings.defaultWorkspace) throw err;
    const fallback = await openWorkspaceFolder(settings.defaultWorkspace);
    const reason = err instanceof Error ? err.message : String(err);
    return {
      root: fallback.root,
      problem: `The workspace saved in Settings, ${wanted}, cannot be used: ${reason} Wirescope opened the default workspace, ${fallback.root}, instead.`,
    };
  }
}
