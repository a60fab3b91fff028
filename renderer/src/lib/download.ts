/**
 * Hands a file to the user as a download, the way a web page does: a click on an `<a download>` to the address the
 * server streams it from. Used in browser mode, where the engine's file lands in the workspace on the machine that
 * serves the workbench and the user may want a copy where the browser keeps downloads; and for small files the page
 * already holds (the CA certificate), from memory.
 */

import type { WirescopeApi } from "../../../preload/contract.ts";
import type { WebSocketApi } from "../../../preload/ws-client.ts";

/**
 * How the engine offers the files of its exports folder for download: browser mode's WebSocket client can say; IPC
 * has no such route (in the desktop app the file is already on this machine).
 */
export function exportUrlOf(api: WirescopeApi): WebSocketApi["exportUrl"] | null {
  const exportUrl = (api as Partial<Pick<WebSocketApi, "exportUrl">>).exportUrl;
  return typeof exportUrl === "function" ? exportUrl : null;
}

/**
 * Offers the file at `url` as a download named `fileName`: the browser fetches and saves it itself, streamed to
 * disk, whatever its size. The server's Content-Disposition decides the name when `url` is on another origin.
 */
export function offerLink(url: string, fileName: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.rel = "noopener";
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
}

/** How long a download made from memory keeps its object URL: the browser reads it after the click returns. */
const OBJECT_URL_LIFETIME_MS = 60_000;

/** Offers `text` as a download named `fileName` of MIME type `type`, from memory: for a small file the page holds. */
export function offerText(text: string, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  offerLink(url, fileName);
  setTimeout(() => URL.revokeObjectURL(url), OBJECT_URL_LIFETIME_MS);
}

/** The last part of a path, whichever separator it uses ("/ws/exports/a.pcapng" -> "a.pcapng"). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}
