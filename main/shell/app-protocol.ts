/**
 * The desktop app's own scheme, `app://wirescope/`, which serves the built workbench (renderer/dist). Why not
 * file://: a file: page has an opaque origin, so Chromium refuses its ES module workers (the editor's) and no
 * response header, hence no Content-Security-Policy header, can be set on it. Over a standard, secure scheme the
 * page has a real origin ('self' in the CSP means it), module workers load, and every response carries the same
 * headers as browser mode's (main/adapters/workbench-files.ts).
 *
 * Pure and Electron-free but for types, so it is tested under Node: main/shell/app.ts only registers
 * `APP_SCHEMES` before the app is ready and hands `serveAppRequest` to `protocol.handle` once it is.
 * Electron's docs: protocol.registerSchemesAsPrivileged, protocol.handle (https://www.electronjs.org/docs/latest/api/protocol).
 */
import { readFile } from "node:fs/promises";
import type { CustomScheme } from "electron";
import { contentType, resolveWorkbenchFile, workbenchHeaders } from "../adapters/workbench-files.ts";

/** The scheme and host the workbench is served from. */
export const APP_SCHEME = "app";
export const APP_HOST = "wirescope";
/** The workbench's origin, and the page the window loads. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/**
 * What `protocol.registerSchemesAsPrivileged` is given, once, before the app is ready: standard (a real origin,
 * relative URLs resolve, storage works), secure (a secure context, like https), fetch for the page's own files.
 * Not corsEnabled and not bypassCSP: nothing from another origin may read it, and the CSP applies.
 */
export const APP_SCHEMES: CustomScheme[] = [
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
];

/** What of a request the handler needs (a fetch Request, as `protocol.handle` passes, fits). */
export interface AppRequest {
  readonly url: string;
  readonly method: string;
}

/** How a file is read; a test may pass its own. Electron's `fs` reads inside the app's asar archive. */
export type ReadFile = (file: string) => Promise<Uint8Array>;

/**
 * The response to one request for the app's scheme, made from the files under `rendererDir` (already passed
 * through realpath by the caller, once). Guarantees: GET and HEAD only (405 otherwise); the host must be
 * `APP_HOST`; a path that leaves `rendererDir` (`..`, encoded or not, or a symbolic link out) or names no file is
 * a 404; every response, errors included, carries the workbench's headers (the CSP first of all) and a content type
 * from the file's extension. Never rejects: a file that cannot be read is a 404 too.
 */
export async function serveAppRequest(
  request: AppRequest,
  rendererDir: string,
  read: ReadFile = readFile,
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return plain(405, "only GET is served here", { Allow: "GET, HEAD" });
  }
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return plain(404, "not found");
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return plain(404, "not found");
  const file = await resolveWorkbenchFile(rendererDir, url.pathname);
  if (file === undefined) return plain(404, "not found");
  let body: Uint8Array;
  try {
    body = await read(file.path);
  } catch {
    return plain(404, "not found");
  }
  const headers = { ...workbenchHeaders(), "Content-Type": contentType(file.path) };
  return new Response(request.method === "HEAD" ? null : body, { status: 200, headers });
}

function plain(status: number, reason: string, extra: Record<string, string> = {}): Response {
  return new Response(`${reason}\n`, {
    status,
    headers: { ...workbenchHeaders(), ...extra, "Content-Type": "text/plain; charset=utf-8" },
  });
}
