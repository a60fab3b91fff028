/**
 * The check a sandboxed protocol's `startTLS(options)` makes in the worker, before anything crosses to the main
 * thread: the options must be what a TLSRequest carries (plain strings, booleans and a list of strings that can be
 * cloned across threads), within the engine's limits, so that a mistake is thrown at the user's call, with its
 * source line, rather than found later on the main thread. The main thread checks the request again
 * (parseTLSRequest, main/tls/tls-request.ts, with the same limits): that schema is not used here because it would
 * bring zod into every sandbox worker (its bundle would grow from about 0.2 MB to 0.75 MB).
 */
import { MAX_ALPN_NAME_LENGTH, MAX_ALPN_PROTOCOLS, MAX_HOST_LENGTH, MAX_PEM_LENGTH } from "../../preload/limits.ts";
import type { TLSRequest } from "../tls/tls-request.ts";

/** The options a sandboxed `startTLS` takes, and what each must be. */
const FIELDS = {
  servername: "string",
  ALPNProtocols: "strings",
  rejectUnauthorized: "boolean",
  ca: "pem",
  cert: "pem",
  key: "pem",
} as const;

type FieldName = keyof typeof FIELDS;

function isField(name: string): name is FieldName {
  return Object.hasOwn(FIELDS, name);
}

/** PEM text from a string or bytes (as read with readFileSync); null for anything else. */
function pemText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString();
  return null;
}

/**
 * Checks `options` (undefined: none) and returns them as a TLSRequest: PEM given as bytes becomes text, a list of
 * CA certificates one PEM text. Throws a TypeError naming the option that is not allowed or not of its type
 * (`SNICallback`, `secureContext` and other node:tls options that can't cross threads are not allowed).
 */
export function checkTLSRequest(options: unknown): TLSRequest {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`startTLS takes an options object (servername, ALPNProtocols, ...), not ${typeof options}`);
  }
  const request: TLSRequest = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!isField(name)) {
      const allowed = Object.keys(FIELDS).join(", ");
      throw new TypeError(`startTLS in a sandboxed protocol takes ${allowed}; '${name}' is not one of them`);
    }
    switch (FIELDS[name]) {
      case "string":
        if (typeof value !== "string") throw new TypeError(`startTLS: '${name}' must be a string`);
        if (value.length > MAX_HOST_LENGTH) {
          throw new TypeError(`startTLS: '${name}' is at most ${MAX_HOST_LENGTH} characters`);
        }
        request.servername = value;
        break;
      case "boolean":
        if (typeof value !== "boolean") throw new TypeError(`startTLS: '${name}' must be true or false`);
        request.rejectUnauthorized = value;
        break;
      case "strings":
        if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
          throw new TypeError(`startTLS: '${name}' must be a list of strings, such as ["h2", "http/1.1"]`);
        }
        if (value.length > MAX_ALPN_PROTOCOLS) throw new TypeError(`startTLS: at most ${MAX_ALPN_PROTOCOLS} '${name}'`);
        if (value.some((item: string) => item.length === 0 || item.length > MAX_ALPN_NAME_LENGTH)) {
          throw new TypeError(`startTLS: an ALPN protocol name is 1 to ${MAX_ALPN_NAME_LENGTH} characters`);
        }
        request.ALPNProtocols = [...(value as string[])];
        break;
      case "pem": {
        const items: unknown[] = Array.isArray(value) ? value : [value];
        const texts = items.map(pemText);
        if (texts.some((text) => text === null)) throw new TypeError(`startTLS: '${name}' must be PEM text or bytes`);
        const text = texts.join("\n");
        if (text.length > MAX_PEM_LENGTH) {
          throw new TypeError(`startTLS: '${name}' is at most ${MAX_PEM_LENGTH.toLocaleString("en-US")} characters`);
        }
        request[name as "ca" | "cert" | "key"] = text;
        break;
      }
    }
  }
  return request;
}
