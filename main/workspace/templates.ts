/**
 * The templates a new protocol file starts from. Each one (but "raw") is a real .ts file in ./templates/ that
 * typechecks against the core and is tested against a real peer; `templateSource` reads it and renames its class.
 *
 * Template files import the core as "wirescope", as user files do. They are read from disk, from `./templates/`
 * beside this module: in the sources, main/workspace/templates/; in the built app, out/main/templates/, where
 * scripts/build-desktop.ts copies them beside the main bundle this module is bundled into (`TEMPLATES_DIR`).
 */
import { readFile } from "node:fs/promises";
import type { ErrorCode } from "../../preload/errors.ts";

/** What the new-protocol picker shows. */
export interface TemplateInfo {
  /** Stable id, passed to `templateSource` and `Workspace.create`. */
  id: string;
  /** A few words for the picker. */
  title: string;
  /** One or two sentences: what it does, what to connect it to. */
  description: string;
  /** Whether the template makes a file. "raw" does not: it means "no protocol, bytes only". */
  hasSource: boolean;
}

interface TemplateEntry extends TemplateInfo {
  /** The file in ./templates/, or null for "raw". */
  file: string | null;
  /** The class the file declares, renamed by `templateSource(id, className)`. */
  className: string | null;
  /** Templates whose files this one imports ("./resp.ts"): they must sit beside it in the workspace. */
  imports?: readonly string[];
}

const TEMPLATES: readonly TemplateEntry[] = [
  {
    id: "raw",
    title: "Raw bytes",
    description: "No protocol: every byte in and out is recorded and shown as it is. Send bytes from the app.",
    hasSource: false,
    file: null,
    className: null,
  },
  {
    id: "echo",
    title: "Echo server",
    description: "Sends every byte back as it arrives. Run it in a listener and connect with nc.",
    hasSource: true,
    file: "echo.ts",
    className: "EchoProtocol",
  },
  {
    id: "line",
    title: "Line-based",
    description: "A LineReceiver: logs each CRLF-terminated line and answers it. The shape of SMTP, IRC, POP3.",
    hasSource: true,
    file: "line.ts",
    className: "LineProtocol",
  },
  {
    id: "length-prefixed",
    title: "Length-prefixed",
    description: "An Int32StringReceiver: messages framed by a 4-byte big-endian length; logs and echoes each.",
    hasSource: true,
    file: "length-prefixed.ts",
    className: "LengthPrefixedProtocol",
  },
  {
    id: "resp",
    title: "Redis (RESP) client",
    description: "Decodes RESP2 replies from a redis-server and sends commands with sendCommand(...args).",
    hasSource: true,
    file: "resp.ts",
    className: "RespClient",
  },
  {
    id: "resp-tap",
    title: "Redis (RESP) proxy tap",
    description:
      "For both legs of a proxy in front of redis-server: a Tap, so the proxy forwards every byte unchanged as it " +
      "arrives, and it logs each command and each reply, decoded. Uses the RESP template's decoder (resp.ts, " +
      "created beside it if missing).",
    hasSource: true,
    file: "resp-tap.ts",
    className: "RespTap",
    imports: ["resp"],
  },
  {
    id: "smtp",
    title: "SMTP proxy tap (STARTTLS)",
    description:
      "For both legs of a STARTTLS proxy in front of an SMTP server: forwards every byte, logs each command and " +
      "reply, and upgrades the connection on STARTTLS, so AUTH, MAIL, RCPT and DATA show in plaintext.",
    hasSource: true,
    file: "smtp.ts",
    className: "SmtpTap",
  },
  {
    id: "postgres",
    title: "PostgreSQL proxy tap",
    description:
      "For both legs of a STARTTLS proxy in front of PostgreSQL: follows SSLRequest into TLS, logs the startup " +
      "parameters, then each message by type (queries, rows, command tags, errors).",
    hasSource: true,
    file: "postgres.ts",
    className: "PostgresTap",
  },
  {
    id: "tls-client",
    title: "TLS client",
    description:
      "Connects, turns the connection TLS with startTLS (at once, or after a STARTTLS exchange in clear) and logs " +
      "what the handshake agreed on and the server's certificate; then logs each line it receives.",
    hasSource: true,
    file: "tls-client.ts",
    className: "TlsClient",
  },
  {
    id: "http",
    title: "HTTP/1.1 client",
    description: "Sends GET / once connected; parses the status, headers and body (Content-Length or chunked).",
    hasSource: true,
    file: "http.ts",
    className: "HttpClient",
  },
  {
    id: "netstring",
    title: "Netstring",
    description: "A NetstringReceiver: messages framed as <length>:<data>, ; logs and echoes each.",
    hasSource: true,
    file: "netstring.ts",
    className: "NetstringProtocol",
  },
  {
    id: "lsp",
    title: "Language Server Protocol (stdio)",
    description:
      "For a process session or 'wirescope wrap' running a language server: decodes each Content-Length framed " +
      "JSON-RPC message both ways (method, id, params or result) and pairs responses with requests, with latency.",
    hasSource: true,
    file: "lsp.ts",
    className: "LspTap",
  },
  {
    id: "jsonl-rpc",
    title: "JSON-RPC over JSON Lines (MCP stdio)",
    description:
      "For a process session or 'wirescope wrap' running an MCP server (or any newline-delimited JSON-RPC): logs " +
      "each message both ways and pairs responses with requests, with latency. Uses the LSP template's pairing.",
    hasSource: true,
    file: "jsonl-rpc.ts",
    className: "JsonlRpcTap",
    imports: ["lsp"],
  },
  {
    id: "bc",
    title: "Process driver (bc)",
    description:
      "A ProcessProtocol for a process session running 'bc -q': sends expressions to its stdin and logs each " +
      "answer from its stdout. The shape of driving any interactive program.",
    hasSource: true,
    file: "bc.ts",
    className: "BcDriver",
  },
];

/** The folder the template files are read from, beside this module (or the bundle it is built into). */
export const TEMPLATES_DIR = new URL("./templates/", import.meta.url);

/** Every template file, for the build to copy beside the main bundle. */
export function templateFiles(): string[] {
  return TEMPLATES.flatMap((t) => (t.file === null ? [] : [t.file]));
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Every template, in the order the picker shows them ("raw" first). */
export function listTemplates(): TemplateInfo[] {
  return TEMPLATES.map(({ id, title, description, hasSource }) => ({ id, title, description, hasSource }));
}

/** Thrown for a template id that does not exist. Stable `code`: "unknown-template". */
export class UnknownTemplateError extends Error {
  /** Stable identifier of the error kind. */
  readonly code = "unknown-template" satisfies ErrorCode;

  constructor(id: string) {
    super(`there is no template '${id}': choose one of ${TEMPLATES.map((t) => t.id).join(", ")}`);
    this.name = "UnknownTemplateError";
  }
}

/**
 * The source of template `id`, or null for "raw" (which has no file). With `className`, the template's class is
 * renamed to it, unless it is not a plain identifier or already appears in the source (e.g. "LineReceiver", the
 * base class): then the template's own name is kept, as the file still works and the engine uses the default export.
 * Throws UnknownTemplateError for an unknown id.
 */
export async function templateSource(id: string, className?: string): Promise<string | null> {
  const entry = TEMPLATES.find((t) => t.id === id);
  if (entry === undefined) throw new UnknownTemplateError(id);
  if (entry.file === null || entry.className === null) return null;
  const source = await readFile(new URL(entry.file, TEMPLATES_DIR), "utf8");
  if (className === undefined || !IDENTIFIER.test(className) || wordIn(source, className)) return source;
  return source.replace(new RegExp(`\\b${entry.className}\\b`, "g"), className);
}

/**
 * The files template `id` imports, as [file name, template id] pairs ("resp.ts" from "resp" for "resp-tap"): whoever
 * creates the template's file creates these beside it when missing (Workspace.create). Throws UnknownTemplateError.
 */
export function templateImports(id: string): { file: string; template: string }[] {
  const entry = TEMPLATES.find((t) => t.id === id);
  if (entry === undefined) throw new UnknownTemplateError(id);
  return (entry.imports ?? []).map((template) => {
    const file = TEMPLATES.find((t) => t.id === template)?.file;
    if (file === undefined || file === null) throw new UnknownTemplateError(template);
    return { file, template };
  });
}

function wordIn(source: string, word: string): boolean {
  return new RegExp(`(?<![\\w$])${word.replace(/\$/g, "\\$")}(?![\\w$])`).test(source);
}
