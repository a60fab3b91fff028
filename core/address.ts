/**
 * Addresses of connection endpoints (src/twisted/internet/address.py).
 */

/** An IPv4 endpoint. `type` is "TCP" or "UDP", as in Twisted. */
export class IPv4Address {
  readonly family = "IPv4" as const;
  constructor(
    readonly type: "TCP" | "UDP",
    readonly host: string,
    readonly port: number,
  ) {}
  toString(): string {
    return `IPv4Address(type='${this.type}', host='${this.host}', port=${this.port})`;
  }
}

/** An IPv6 endpoint. */
export class IPv6Address {
  readonly family = "IPv6" as const;
  constructor(
    readonly type: "TCP" | "UDP",
    readonly host: string,
    readonly port: number,
  ) {}
  toString(): string {
    return `IPv6Address(type='${this.type}', host='${this.host}', port=${this.port})`;
  }
}

/** A UNIX socket path (null for an unnamed socket). */
export class UNIXAddress {
  readonly family = "UNIX" as const;
  constructor(readonly name: string | null) {}
  toString(): string {
    return `UNIXAddress(${this.name === null ? "None" : `'${this.name}'`})`;
  }
}

/** The address of a spawned process's pipes. */
export class ProcessAddress {
  readonly family = "Process" as const;
  toString(): string {
    return "ProcessAddress()";
  }
}

/** Any endpoint address a transport reports from `getPeer()` / `getHost()`. */
export type Address = IPv4Address | IPv6Address | UNIXAddress | ProcessAddress;

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * Builds a TCP address from what Node reports (`socket.remoteAddress`, `server.address()`).
 * An IPv4-mapped IPv6 host (`::ffff:127.0.0.1`) is normalised to its IPv4 form, as Twisted reports it.
 */
export function tcpAddress(host: string | undefined, port: number | undefined, family?: string | number): Address {
  const h = host ?? "";
  const mapped = MAPPED_V4.exec(h);
  if (mapped) return new IPv4Address("TCP", mapped[1]!, port ?? 0);
  const isV6 = family === "IPv6" || family === 6 || h.includes(":");
  return isV6 ? new IPv6Address("TCP", h, port ?? 0) : new IPv4Address("TCP", h, port ?? 0);
}
