/**
 * Hands a file to the user as a download, the way a web page does: a click on an `<a download>` to the address the
 * server streams it from (browser mode, where the engine's file lands in the workspace on the machine that serves
 * the workbench and the user may want a copy where the browser keeps downloads), or to text the engine answered
 * (small files the engine writes nowhere, such as TLS keys).
 */

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

/** How long a blob URL outlives its click: the browser reads it asynchronously after the click. */
const REVOKE_AFTER_MS = 60_000;

/**
 * Offers `text` as a download named `fileName` (plain text, UTF-8), from a blob URL that is let go once the browser
 * has had it.
 */
export function offerText(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  offerLink(url, fileName);
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/** The last part of a path, whichever separator it uses ("/ws/exports/a.pcapng" -> "a.pcapng"). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}
