/**
 * Session targets as Twisted endpoint strings: what the user typed (an endpoint string, or host/port/tls fields)
 * becomes one description that the core's endpoints parse. Listeners bind 127.0.0.1 unless the user names an
 * interface.
 */
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
 * The server endpoint description for a listen target. A TCP or SSL description without `interface` gets
 * `interface=127.0.0.1`: Wirescope never listens on every interface unless asked to.
 */
export function serverDescription(target: ListenTarget): string {
  if (target.endpoint !== undefined) {
    const parsed = check(target.endpoint);
    const type = parsed.type.toLowerCase();
    if ((type === "tcp" || type === "ssl") && parsed.kwargs.interface === undefined) {
      return `${target.endpoint}:interface=127.0.0.1`;
    }
    return target.endpoint;
  }
  const iface = target.interface?.trim() || "127.0.0.1";
  const type = iface.includes(":") ? "tcp6" : "tcp";
  return `${type}:${target.port!}:interface=${quoteStringArgument(iface)}`;
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
