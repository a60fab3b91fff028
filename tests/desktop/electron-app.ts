/**
 * What the desktop smoke test needs to launch the real app, and why it cannot when it cannot: Electron's binary
 * (found as `npm start` finds it, main/shell/electron-binary.ts, without loading the electron module) and, on Linux,
 * a display (the session's own, or an Xvfb started for the test).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { electronPackageAt, findElectronBinary, type ElectronBinary } from "../../main/shell/electron-binary.ts";

/** The repository's root: what Electron is launched on (`electron .`, package.json "main" = out/main/main.js). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Electron's binary on this machine, or why there is none. */
export function electronBinary(): ElectronBinary {
  return findElectronBinary(electronPackageAt(ROOT));
}

const XVFB = "/usr/bin/Xvfb";

/** A display for the app's window: `env` to launch with, and what to stop afterwards. */
export interface Display {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The display to open the window on: the session's own when there is one (or not Linux); else a new Xvfb, which
 * prints the display number it took (-displayfd). Resolves to a reason instead when there is none to be had.
 */
export async function openDisplay(): Promise<Display | string> {
  if (process.platform !== "linux" || process.env.DISPLAY || process.env.WAYLAND_DISPLAY) {
    return { env: {}, stop: async () => {} };
  }
  if (!existsSync(XVFB)) {
    return "there is no display (DISPLAY is unset) and no Xvfb to make one: apt-get install xvfb";
  }
  const xvfb: ChildProcess = spawn(XVFB, ["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const display = await new Promise<string | null>((resolve) => {
    let out = "";
    const timer = setTimeout(() => resolve(null), 10_000);
    xvfb.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const match = /^(\d+)\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(`:${match[1]}`);
      }
    });
    xvfb.once("exit", () => resolve(null));
  });
  const stop = async () => {
    if (xvfb.exitCode !== null) return;
    const exited = new Promise((resolve) => xvfb.once("exit", resolve));
    xvfb.kill("SIGTERM");
    await exited;
  };
  if (display === null) {
    await stop();
    return `${XVFB} did not start`;
  }
  return { env: { DISPLAY: display }, stop };
}
