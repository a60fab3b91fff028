/**
 * What a protocol path is: relative to the workspace, "/"-separated, a `.ts` file inside it. Every path that comes
 * from outside (the app, the CLI, profiles.json) is checked here before any file system call.
 */
import { MAX_PROTOCOL_PATH_LENGTH, MAX_QUOTED_LENGTH, shorten } from "../../preload/limits.ts";
import { CAPTURES_DIR } from "./layout.ts";
import { InvalidPathError } from "./errors.ts";

/** What a protocol path may be made of, once the ".ts" is removed. */
const PROTOCOL_NAME = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

/** A path as shown in messages: quoted, cut to MAX_QUOTED_LENGTH characters, with control characters escaped. */
export function quotePath(p: string): string {
  return `'${shorten(p, MAX_QUOTED_LENGTH).replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}'`;
}

/**
 * Checks that `p` is a protocol path: relative to the workspace, "/"-separated, inside it (no `..`, not absolute),
 * a `.ts` file, names of letters, digits, '-' and '_', not under captures/. Returns it unchanged; throws
 * InvalidPathError with what to change. Used on every path from outside before any file system call.
 */
export function checkProtocolPath(p: unknown): string {
  if (typeof p !== "string") throw new InvalidPathError(`a protocol path must be a string, got ${typeof p}`);
  if (p === "") throw new InvalidPathError("the protocol path is empty: give a name such as 'redis.ts'");
  if (p.includes("\0")) {
    throw new InvalidPathError(`protocol paths may not contain NUL characters: got ${quotePath(p)}`);
  }
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p)) {
    throw new InvalidPathError(`protocol paths are relative to the workspace, such as 'redis.ts': got ${quotePath(p)}`);
  }
  if (p.split(/[/\\]/).includes("..")) {
    throw new InvalidPathError(`protocol paths may not leave the workspace with '..': got ${quotePath(p)}`);
  }
  if (!p.endsWith(".ts")) throw new InvalidPathError(`protocols are .ts files: got ${quotePath(p)}`);
  if (p.length > MAX_PROTOCOL_PATH_LENGTH) {
    throw new InvalidPathError(`protocol paths are at most ${MAX_PROTOCOL_PATH_LENGTH} characters: got ${p.length}`);
  }
  if (!PROTOCOL_NAME.test(p.slice(0, -3))) {
    throw new InvalidPathError(`protocol names may contain letters, digits, '-', '_' and '/': got ${quotePath(p)}`);
  }
  if (p.split("/")[0] === CAPTURES_DIR && p.includes("/")) {
    throw new InvalidPathError(`'${CAPTURES_DIR}/' is reserved for capture files: got ${quotePath(p)}`);
  }
  return p;
}

/** Whether `p` is a valid protocol path (checkProtocolPath without the throw). */
export function isProtocolPath(p: string): boolean {
  try {
    checkProtocolPath(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether folder `relative` (of the workspace, "/"-separated) holds no protocols, so `list()` and `watch()` skip it:
 * hidden ones (.trash, .git), captures/, node_modules.
 */
export function isIgnoredDirectory(relative: string): boolean {
  const name = relative.slice(relative.lastIndexOf("/") + 1);
  return name.startsWith(".") || name === "node_modules" || relative === CAPTURES_DIR;
}
