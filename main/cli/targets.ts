/**
 * What a user types for an address on the command line, turned into the contract's targets. A Twisted endpoint
 * string passes through as it is (the engine parses it and explains a wrong one); the short forms netcat users
 * type are accepted too: `host:port`, `[::1]:port`, and for a listener a bare port.
 */
import type { ClientTarget, ListenTarget } from "../../preload/contract.ts";

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d+)$/;
const BARE_PORT = /^\d+$/;

/**
 * A client target: "tcp:host=127.0.0.1:port=6379" (any endpoint string: its type comes before the first colon
 * and it has a `key=value` or is unix:), "127.0.0.1:6379", "[::1]:6379", "localhost:80".
 */
export function clientTarget(text: string): ClientTarget {
  const hostPort = HOST_PORT.exec(text);
  if (hostPort && !looksLikeEndpointString(text)) {
    return { host: hostPort[1] ?? hostPort[2]!, port: Number(hostPort[3]) };
  }
  return { endpoint: text };
}

/**
 * A listen target: "6379" (on 127.0.0.1), "127.0.0.1:0", "[::1]:8080", or a server endpoint string
 * ("tcp:0:interface=127.0.0.1"; one without an interface binds 127.0.0.1, as in the app).
 */
export function listenTarget(text: string): ListenTarget {
  if (BARE_PORT.test(text)) return { port: Number(text), interface: "127.0.0.1" };
  const hostPort = HOST_PORT.exec(text);
  if (hostPort && !looksLikeEndpointString(text)) {
    return { port: Number(hostPort[3]), interface: hostPort[1] ?? hostPort[2]! };
  }
  return { endpoint: text };
}

/** "tcp:6379" is an endpoint string (type tcp, port 6379), not host "tcp" port 6379. */
function looksLikeEndpointString(text: string): boolean {
  return /^(tcp|tcp6|ssl|tls|unix):/i.test(text);
}
