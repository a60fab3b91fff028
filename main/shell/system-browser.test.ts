import { describe, expect, it } from "vitest";
import { browserCommand } from "./system-browser.ts";

const URL = "http://127.0.0.1:40123/?token=abc";

describe("which browser npm start opens", () => {
  it("opens the platform's default: xdg-open with a display, open on macOS, start on Windows", () => {
    expect(browserCommand(URL, "linux", { DISPLAY: ":0" })).toEqual({ command: "xdg-open", args: [URL] });
    expect(browserCommand(URL, "linux", { WAYLAND_DISPLAY: "wayland-0" })).toEqual({
      command: "xdg-open",
      args: [URL],
    });
    expect(browserCommand(URL, "darwin", {})).toEqual({ command: "open", args: [URL] });
    expect(browserCommand(`${URL}&x=1`, "win32", {})).toEqual({
      command: "cmd",
      args: ["/c", "start", '""', `${URL}^&x=1`],
    });
  });

  it("opens none without a display (a server, SSH, CI): the printed address is enough", () => {
    expect(browserCommand(URL, "linux", {})).toBeNull();
    expect(browserCommand(URL, "freebsd", { DISPLAY: "" })).toBeNull();
  });

  it("follows BROWSER: none (or empty) opens nothing anywhere; a program is run with the address", () => {
    for (const platform of ["linux", "darwin", "win32"] as const) {
      expect(browserCommand(URL, platform, { BROWSER: "none", DISPLAY: ":0" })).toBeNull();
      expect(browserCommand(URL, platform, { BROWSER: "", DISPLAY: ":0" })).toBeNull();
    }
    expect(browserCommand(URL, "linux", { BROWSER: "firefox" })).toEqual({ command: "firefox", args: [URL] });
  });
});
