/**
 * The TLS options of `listen` and `proxy` (`--tls`, `--starttls`, `--cert`/`--key`, `--insecure-upstream`) read
 * into the contract's ListenTLS / ProxyTLS, with a usage error for a combination that means nothing: a certificate
 * without its key, or certificate files and upstream verification on a session that does no TLS. The files are
 * resolved from the shell's current folder and checked by the engine (a key that isn't a key, a certificate that
 * doesn't match it), which says which file is wrong.
 */
import * as path from "node:path";
import type { ListenTLS, ProxyTLS } from "../../preload/contract.ts";
import { helpHint } from "./args.ts";
import { UsageError } from "./errors.ts";

/** The TLS options of every session command that accepts connections (`--keylog` too: see keylog-file.ts). */
export const TLS_FILE_OPTIONS = {
  tls: { type: "boolean" },
  cert: { type: "string" },
  key: { type: "string" },
  keylog: { type: "string" },
} as const;

/** `proxy`'s, on top of TLS_FILE_OPTIONS. */
export const PROXY_TLS_OPTIONS = {
  ...TLS_FILE_OPTIONS,
  starttls: { type: "boolean" },
  "insecure-upstream": { type: "boolean" },
} as const;

/** The TLS options as parseArgs gives them. */
export interface TLSFlags {
  tls?: boolean;
  starttls?: boolean;
  cert?: string;
  key?: string;
  "insecure-upstream"?: boolean;
}

/** Help lines for the certificate options, shared by listen's and proxy's usage. */
export const CERT_HELP = `  --cert <file>         with --key: your own PEM certificate (chain) instead of one from Wirescope's CA
  --key <file>          the PEM private key of --cert`;

/** Help line for --keylog, shared by listen's, proxy's and connect's usage. */
export const KEYLOG_HELP = `  --keylog <file>       append the TLS session secrets of every connection to <file> as they come
                        (SSLKEYLOGFILE format, mode 0600): Wireshark decrypts a capture of the same traffic`;

/** `--cert` and `--key`, both or neither, as absolute paths. Throws UsageError when one is alone. */
function certFiles(command: string, flags: TLSFlags): { certFile?: string; keyFile?: string } {
  if (flags.cert !== undefined && flags.key === undefined) {
    throw new UsageError(`${command}: --cert needs --key (the certificate's private key file)`, helpHint(command));
  }
  if (flags.key !== undefined && flags.cert === undefined) {
    throw new UsageError(`${command}: --key needs --cert (the key's certificate file)`, helpHint(command));
  }
  if (flags.cert === undefined || flags.key === undefined) return {};
  return { certFile: path.resolve(flags.cert), keyFile: path.resolve(flags.key) };
}

/** `listen`'s TLS settings: undefined without --tls. Throws UsageError for --cert/--key without --tls. */
export function listenTLS(flags: TLSFlags): ListenTLS | undefined {
  const files = certFiles("listen", flags);
  if (flags.tls === true) return files;
  if (files.certFile !== undefined) {
    throw new UsageError("listen: --cert and --key are for a TLS listener: add --tls", helpHint("listen"));
  }
  return undefined;
}

/**
 * `proxy`'s TLS settings: mode "terminate" with --tls, "starttls" with --starttls, undefined with neither. Throws
 * UsageError for both modes at once, or --cert/--key/--insecure-upstream on a plain proxy.
 */
export function proxyTLS(flags: TLSFlags): ProxyTLS | undefined {
  const files = certFiles("proxy", flags);
  const insecure = flags["insecure-upstream"] === true;
  if (flags.tls === true && flags.starttls === true) {
    throw new UsageError(
      "proxy: --tls and --starttls exclude each other: --tls when clients speak TLS from the first byte, " +
        "--starttls when a protocol upgrades the connection",
      helpHint("proxy"),
    );
  }
  const mode = flags.tls === true ? "terminate" : flags.starttls === true ? "starttls" : null;
  if (mode === null) {
    if (files.certFile !== undefined) {
      throw new UsageError("proxy: --cert and --key are for a TLS proxy: add --tls or --starttls", helpHint("proxy"));
    }
    if (insecure) {
      throw new UsageError("proxy: --insecure-upstream is for a TLS proxy: add --tls or --starttls", helpHint("proxy"));
    }
    return undefined;
  }
  return { mode, ...files, ...(insecure ? { insecureUpstream: true } : {}) };
}
