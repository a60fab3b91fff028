/**
 * How the workbench's built files (renderer/dist) are served, wherever they are served: by browser mode over HTTP
 * (main/adapters/ws-server.ts) and by the desktop app over its `app://` scheme (main/shell/app-protocol.ts). One
 * policy, one set of content types and one path check for both, so that the two cannot drift apart.
 */
import { realpath, stat } from "node:fs/promises";
import path from "node:path";

/**
 * The Content-Security-Policy of the workbench's pages: its own code only, no eval, inline styles (Svelte's
 * transitions set them), blob: or same-origin workers (the editor's), nothing may frame it. `connectSources` are
 * added to connect-src beside 'self': browser mode passes its WebSocket (`ws://127.0.0.1:PORT`); the desktop app
 * passes nothing (the contract travels over IPC, not a socket).
 */
export function contentSecurityPolicy(connectSources: readonly string[] = []): string {
  return [
    "default-src 'self'",
    ["connect-src 'self'", ...connectSources].join(" "),
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The headers every response of the workbench carries: the CSP (`contentSecurityPolicy(connectSources)`), no MIME
 * sniffing, no referrer, its own browsing-context group, no use by other origins, no stale caching.
 */
export function workbenchHeaders(connectSources: readonly string[] = []): Record<string, string> {
  return {
    "Content-Security-Policy": contentSecurityPolicy(connectSources),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
  };
}

/** Content types by extension. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
};

/**
 * The Content-Type of a workbench file, by its extension in any letter case; application/octet-stream for others
 * (which `nosniff` keeps a browser from running as script). Module workers need text/javascript: a Chromium refuses
 * them with any other type.
 */
export function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/**
 * The file a request for `url` (a path such as "/assets/x.js", or a whole URL of any scheme: only its path counts)
 * names inside `root` (which the caller has passed through realpath once), or undefined when there is none: a
 * path that does not decode, has a NUL, leaves `root` (`..`, encoded or not), or resolves outside it through a
 * symbolic link, a folder, a missing file. A path ending in "/" names its index.html. Never throws.
 */
export async function resolveWorkbenchFile(
  root: string,
  url: string,
): Promise<{ path: string; size: number } | undefined> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, "http://x").pathname);
  } catch {
    return undefined;
  }
  if (pathname.includes("\0")) return undefined;
  if (pathname.endsWith("/")) pathname += "index.html";
  const candidate = path.resolve(root, `.${pathname}`);
  if (!isInside(root, candidate)) return undefined;
  try {
    const real = await realpath(candidate);
    if (!isInside(root, real)) return undefined;
    const info = await stat(real);
    return info.isFile() ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== "" && relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
