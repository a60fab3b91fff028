/**
 * Hands bytes to the user as a file download, the way a web page does: a Blob, an object URL, a click on an `<a
 * download>`. Used in browser mode, where the engine's file lands in the workspace on the machine that serves the
 * workbench and the user may want a copy where the browser keeps downloads. The object URL is revoked once the
 * browser has taken it.
 */

/** How long the object URL stays valid after the click (the browser copies it at once; this is a safe margin). */
const REVOKE_AFTER_MS = 60_000;

/** Offers `data` as a download named `fileName`. */
export function offerDownload(fileName: string, data: Uint8Array, type = "application/octet-stream"): void {
  // A copy into a fresh ArrayBuffer: a Uint8Array may view a larger (or shared) buffer.
  const blob = new Blob([data.slice().buffer as ArrayBuffer], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/** The last part of a path, whichever separator it uses ("/ws/exports/a.pcapng" -> "a.pcapng"). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}
