/**
 * Browser mode's download of an export: `GET /exports/<file name>?token=...` streams a file of the current
 * workspace's exports folder over HTTP, so that a pcapng of any size reaches the browser without travelling base64
 * inside a WebSocket answer (ws-server.ts caps those). The workbench links to it with an `<a download>`
 * (renderer/src/lib/export-pcapng.ts; the address comes from preload/ws-client.ts `exportUrl`).
 *
 * Only a plain file name is served: no `/` or `\` (encoded or not), no NUL, not `.` or `..`, and the file itself
 * must be a regular file, opened without following a symbolic link. ws-server.ts checks the Host and the token
 * before calling `serveExport`.
 */
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { EXPORTS_ROUTE } from "../../preload/ws-client.ts";

/** The content type of captures: IANA's registered one for pcap, used for pcapng too (which has none of its own). */
const CAPTURE_TYPE = "application/vnd.tcpdump.pcap";

/** What `serveExport` answers when it does not stream a file: the HTTP status and a line for the person. */
export interface ExportRefusal {
  status: number;
  reason: string;
}

/**
 * The file name a request path under EXPORTS_ROUTE names, or a refusal (400) saying why it is not a plain file
 * name. `pathname` is the URL's path as received (still percent-encoded). Never throws.
 */
export function exportFileName(pathname: string): string | ExportRefusal {
  const bad = (why: string): ExportRefusal => ({
    status: 400,
    reason: `${why}: ask for /exports/<file name>, a file of the workspace's exports folder`,
  });
  const encoded = pathname.slice(EXPORTS_ROUTE.length);
  if (encoded.length === 0) return bad("no file name");
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    return bad("the file name is not valid percent-encoding");
  }
  if (name.includes("\0")) return bad("the file name holds a NUL");
  if (/[\\/]/.test(name)) return bad("only a file name is served, not a path");
  if (name === "." || name === "..") return bad(`${JSON.stringify(name)} is not a file name`);
  return name;
}

/** The Content-Type a file of the exports folder is sent with. */
function exportContentType(name: string): string {
  const ext = path.extname(name).toLowerCase();
  return ext === ".pcapng" || ext === ".pcap" ? CAPTURE_TYPE : "application/octet-stream";
}

/**
 * A Content-Disposition that makes the browser save the file under its own name (RFC 6266): an ASCII `filename`
 * for old clients and the exact name in `filename*` (RFC 8187).
 */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/**
 * Streams `<folder>/<name>` to `res` (GET; HEAD gets the headers only) with `headers` added, or answers a refusal:
 * 404 when there is no such regular file (missing, a folder, a symbolic link). The file is opened once and its
 * size taken from that handle, so Content-Length matches what is sent even if the file is replaced meanwhile.
 * Resolves once the response is handed to the stream; a read error later destroys the response.
 */
export async function serveExport(
  folder: string,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
): Promise<ExportRefusal | undefined> {
  const missing: ExportRefusal = { status: 404, reason: `no export named ${JSON.stringify(name)} in ${folder}` };
  let handle: FileHandle;
  try {
    handle = await open(path.join(folder, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return missing;
  }
  let size: number;
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      return missing;
    }
    size = info.size;
  } catch {
    await handle.close();
    return missing;
  }
  res.writeHead(200, {
    ...headers,
    "Content-Type": exportContentType(name),
    "Content-Disposition": attachment(name),
    "Content-Length": size,
  });
  if (req.method === "HEAD" || size === 0) {
    await handle.close();
    res.end();
    return undefined;
  }
  const stream = handle.createReadStream({ start: 0, end: size - 1 });
  stream.on("error", () => res.destroy());
  res.on("close", () => stream.destroy());
  stream.pipe(res);
  return undefined;
}
