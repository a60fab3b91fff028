/**
 * What a user protocol may ask of `startTLS`: the structured-cloneable subset of node:tls's options (no functions,
 * no SecureContext), as it crosses from the sandbox worker to the engine. The engine checks it (`parseTLSRequest`)
 * before using it, since it comes from user code.
 *
 * Client side (a connection Wirescope opened): the server's certificate is verified unless `rejectUnauthorized` is
 * false (or the session skips upstream verification). Server side (an accepted connection): without `cert` and
 * `key`, the session's own files or a certificate from Wirescope's CA for the name the client asks (SNI).
 */
import { z } from "zod";
import { MAX_ALPN_NAME_LENGTH, MAX_ALPN_PROTOCOLS, MAX_HOST_LENGTH, MAX_PEM_LENGTH } from "../../preload/limits.ts";

const pem = z
  .string()
  .max(MAX_PEM_LENGTH, `a PEM text is at most ${MAX_PEM_LENGTH.toLocaleString("en-US")} characters`);

export const TLSRequest = z
  .object({
    /** Client side: the name to verify and send as SNI. */
    servername: z.string().max(MAX_HOST_LENGTH, `a server name is at most ${MAX_HOST_LENGTH} characters`).optional(),
    /** The ALPN protocols to offer (client) or accept (server). */
    ALPNProtocols: z
      .array(
        z.string().min(1).max(MAX_ALPN_NAME_LENGTH, `an ALPN protocol name is at most ${MAX_ALPN_NAME_LENGTH} bytes`),
      )
      .max(MAX_ALPN_PROTOCOLS, `at most ${MAX_ALPN_PROTOCOLS} ALPN protocols`)
      .optional(),
    /** Client side: false to skip verifying the server's certificate. */
    rejectUnauthorized: z.boolean().optional(),
    /** PEM CA certificate(s) to trust instead of the system's. */
    ca: pem.optional(),
    /** PEM certificate (chain) to present; with `key`. */
    cert: pem.optional(),
    /** PEM private key of `cert`. */
    key: pem.optional(),
  })
  .strict();
export type TLSRequest = z.infer<typeof TLSRequest>;

/**
 * `value` as a TLSRequest (undefined: the defaults), or a TypeError naming what is wrong with it ("startTLS:
 * ALPNProtocols: at most 32 ALPN protocols"). For what a sandboxed protocol passed.
 */
export function parseTLSRequest(value: unknown): TLSRequest {
  const parsed = TLSRequest.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  throw new TypeError(`startTLS: ${where}${issue.message}`);
}
