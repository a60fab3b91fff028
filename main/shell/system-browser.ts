/**
 * How `npm start` opens the system browser on browser mode's address, when it runs browser mode for want of
 * Electron's binary (main/start.ts). The choice is a pure function of the platform and the environment, tested
 * beside it; start.ts runs the command and, if it fails, the printed address is still there to open by hand.
 *
 * BROWSER=none (or empty) never opens one — what the tests set, and what a user sets on a machine where nothing
 * should pop up; BROWSER=<program> opens that program (the convention of xdg-utils and Python's webbrowser).
 * On Linux and the BSDs, with neither DISPLAY nor WAYLAND_DISPLAY set (a server, an SSH session, CI) there is no
 * browser to show: only the address is printed.
 */

/** A program and its arguments that open `url`, or null when none should be run. */
export type BrowserCommand = { command: string; args: string[] } | null;

/** The command that opens `url` in the system browser here, or null (see the file's comment). */
export function browserCommand(url: string, platform: NodeJS.Platform, env: NodeJS.ProcessEnv): BrowserCommand {
  const chosen = env.BROWSER;
  if (chosen !== undefined) {
    return chosen.trim() === "" || chosen === "none" ? null : { command: chosen, args: [url] };
  }
  if (platform === "darwin") return { command: "open", args: [url] };
  // `start` is cmd's built-in; its first quoted argument is the window title, hence the empty one.
  if (platform === "win32") return { command: "cmd", args: ["/c", "start", '""', url.replace(/&/g, "^&")] };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return null;
  return { command: "xdg-open", args: [url] };
}
