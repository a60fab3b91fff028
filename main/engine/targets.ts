/**
 * Session targets as Twisted endpoint strings: what the user typed (an endpoint string, or host/port/tls fields)
 * becomes one description that the core's endpoints parse. Listeners bind 127.0.0.1 unless the user names an
 * interface, and queue up to LISTEN_BACKLOG connections unless the user names a backlog.
 */
import { isIP } from "node:net";
import { EndpointParseError, parseEndpointString, quoteStringArgument } from "../../core/index.ts";
import type { ClientTarget, ListenTarget } from "../../preload/contract.ts";
import { EngineError } from "./errors.ts";

/** An endpoint description the core can't use; `message` is the parser's, which names the parameter at fault. */
export class BadEndpointError extends EngineError {
  constructor(message: string, cause?: unknown) {
    super("bad-endpoint", message, { cause });
  }
}

/** The client endpoint description for a target. Throws BadEndpointError for a description that doesn't parse. */
export function clientDescription(target: ClientTarget): string {
  if (target.endpoint !== undefined) {
    check(target.endpoint);
    return target.endpoint;
  }
  const kind = target.tls ? "ssl" : "tcp";
  return `${kind}:host=${quoteStringArgument(target.host!)}:port=${target.port!}`;
}

/**
 * An upstream's description as plain TCP, and its host: a terminating proxy connects to an `ssl:` upstream as TCP
 * and makes the TLS itself (with the client's SNI and ALPN). Other descriptions are kept; `host` is null for one
 * without a host (a UNIX path). Throws BadEndpointError for a description that doesn't parse.
 */
export function plainUpstream(description: string): { description: string; host: string | null } {
  const parsed = check(description);
  const type = parsed.type.toLowerCase();
  const host = parsed.kwargs.host ?? parsed.args[0] ?? null;
  if (type !== "ssl") return { description, host: type === "unix" ? null : host };
  const port = parsed.kwargs.port ?? parsed.args[1];
  if (host === null || port === undefined) return { description, host };
  return { description: `tcp:host=${quoteStringArgument(host)}:port=${port}`, host };
}

/** `host` when it is a host name, null when it is an address or absent: a name TLS may ask for and verify. */
export function hostName(host: string | null | undefined): string | null {
  return host !== null && host !== undefined && host !== "" && isIP(host) === 0 ? host : null;
}

/**
 * The listen backlog of the app's listeners and proxies: how many connections the kernel queues, handshake done,
 * before the engine accepts them. Twisted's default of 50 (the core's, kept for `listenTCP`) overflows when a load
 * test opens hundreds of connections at once, and the kernel resets the ones past it before the engine sees them;
 * so the app asks for more. Linux caps it at `net.core.somaxconn` (4096 since kernel 5.4, 128 before).
 */
export const LISTEN_BACKLOG = 4096;

/** Server endpoint types whose description takes a `backlog` parameter. */
const TAKES_BACKLOG = new Set(["tcp", "tcp6", "ssl", "unix"]);

/**
 * The server endpoint description for a listen target. A TCP or SSL description without `interface` gets
 * `interface=127.0.0.1`: Wirescope never listens on every interface unless asked to. One without a backlog gets
 * `backlog=LISTEN_BACKLOG`; a backlog the user wrote, by name or by position, is kept.
 */
export function serverDescription(target: ListenTarget): string {
  if (target.endpoint === undefined) {
    const iface = target.interface?.trim() || "127.0.0.1";
    const type = iface.includes(":") ? "tcp6" : "tcp";
    return `${type}:${target.port!}:interface=${quoteStringArgument(iface)}:backlog=${LISTEN_BACKLOG}`;
  }
  const parsed = check(target.endpoint);
  const type = parsed.type.toLowerCase();
  let description = target.endpoint;
  if ((type === "tcp" || type === "ssl") && parsed.kwargs.interface === undefined) {
    description += ":interface=127.0.0.1";
  }
  // A backlog is never the first positional parameter (the port or path), so with one positional it is unset.
  if (TAKES_BACKLOG.has(type) && parsed.kwargs.backlog === undefined && parsed.args.length <= 1) {
    description += `:backlog=${LISTEN_BACKLOG}`;
  }
  return description;
}

function check(description: string): ReturnType<typeof parseEndpointString> {
  try {
    return parseEndpointString(description);
  } catch (err) {
    if (err instanceof EndpointParseError) throw new BadEndpointError(err.message, err);
    throw err;
  }
}

/** A short, human form of an address ("127.0.0.1:6379", "[::1]:80", "/tmp/sock"). */
export function formatAddress(address: { family: string; host?: string; port?: number; name?: string | null }): string {
  if (address.family === "UNIX") return address.name ?? "(unnamed)";
  if (address.family === "IPv6") return `[${address.host}]:${address.port}`;
  if (address.family === "IPv4") return `${address.host}:${address.port}`;
  return address.family;
}
