/**
 * The TLS part of the new-listener and new-proxy form: what the user chose (a mode, whose certificate clients see,
 * whether to skip verifying the upstream) becomes the `tls` argument of `listen` or `proxy`, checked with the
 * contract's own schemas (ListenTLS, ProxyTLS) first. lib/session-form.ts owns the rest of the form and calls this.
 */
import type { z } from "zod";
import { ListenTLS, ProxyTLS, type SessionTLS } from "../../../preload/contract.ts";
import { addError, schemaProblems } from "./form-errors.ts";

/**
 * "plain": no TLS. "terminate": clients speak TLS to Wirescope from their first byte (a listener's only TLS mode).
 * "starttls" (proxies): both legs start plain and the protocol upgrades them (`this.transport.startTLS()`).
 */
export type TLSMode = "plain" | ProxyTLS["mode"];

/** Whose certificate clients see: one Wirescope's CA issues for the name they ask, or the user's own files. */
export type CertificateSource = SessionTLS["certificate"];

/** The form's TLS fields, as typed. */
export interface TLSFormFields {
  tlsMode: TLSMode;
  certificate: CertificateSource;
  /** Paths of PEM files, used with certificate "own". */
  certFile: string;
  keyFile: string;
  /** Proxies: don't verify the upstream's certificate (a self-signed or expired one on a test server). */
  insecureUpstream: boolean;
}

/** The TLS fields' names: the fields a TLS message goes next to. */
export type TLSField = keyof TLSFormFields;

/** The fields of a form that starts without TLS. */
export function initialTLS(): TLSFormFields {
  return { tlsMode: "plain", certificate: "wirescope-ca", certFile: "", keyFile: "", insecureUpstream: false };
}

/** The modes each kind offers, in the order the dialog lists them, with their option text. */
export const TLS_MODES: Record<"listener" | "proxy", { mode: TLSMode; label: string }[]> = {
  listener: [
    { mode: "plain", label: "Plain TCP" },
    { mode: "terminate", label: "TLS" },
  ],
  proxy: [
    { mode: "plain", label: "Plain TCP" },
    { mode: "terminate", label: "Terminate TLS" },
    { mode: "starttls", label: "STARTTLS through the protocol" },
  ],
};

/** Which field each path of the `tls` argument names (paths as in the contract's issues: "tls.keyFile"). */
export const TLS_PATHS: Readonly<Record<string, TLSField>> = {
  tls: "tlsMode",
  "tls.mode": "tlsMode",
  "tls.certFile": "certFile",
  "tls.keyFile": "keyFile",
  "tls.insecureUpstream": "insecureUpstream",
};

/** Own files need both paths: an empty one is said next to its field, and the answer is null. */
function certificateFiles(
  fields: TLSFormFields,
  errors: Partial<Record<TLSField, string>>,
): { certFile?: string; keyFile?: string } | null {
  if (fields.certificate === "wirescope-ca") return {};
  const certFile = fields.certFile.trim();
  const keyFile = fields.keyFile.trim();
  if (certFile === "") addError(errors, "certFile", "give the certificate's file (PEM), or use Wirescope's CA");
  if (keyFile === "") addError(errors, "keyFile", "give the private key's file (PEM), or use Wirescope's CA");
  return certFile === "" || keyFile === "" ? null : { certFile, keyFile };
}

/** The schema's result, or null with its issues put on the fields they name. */
function checked<T>(parsed: z.ZodSafeParseResult<T>, errors: Partial<Record<TLSField, string>>): T | null {
  if (parsed.success) return parsed.data;
  for (const { path, message } of schemaProblems(parsed.error.issues)) {
    addError(errors, TLS_PATHS[path === "" ? "tls" : `tls.${path}`] ?? "tlsMode", message);
  }
  return null;
}

/**
 * The `tls` argument of `listen` for the fields: undefined for plain TCP, else the settings checked with the
 * contract's schema; null when a field is wrong, its message then in `errors`.
 */
export function listenTLSArgument(
  fields: TLSFormFields,
  errors: Partial<Record<TLSField, string>>,
): ListenTLS | undefined | null {
  if (fields.tlsMode === "plain") return undefined;
  const files = certificateFiles(fields, errors);
  return files === null ? null : checked(ListenTLS.safeParse(files), errors);
}

/** The `tls` argument of `proxy` for the fields, as `listenTLSArgument` makes a listener's. */
export function proxyTLSArgument(
  fields: TLSFormFields,
  errors: Partial<Record<TLSField, string>>,
): ProxyTLS | undefined | null {
  if (fields.tlsMode === "plain") return undefined;
  const files = certificateFiles(fields, errors);
  if (files === null) return null;
  const insecure = fields.insecureUpstream ? { insecureUpstream: true } : {};
  return checked(ProxyTLS.safeParse({ mode: fields.tlsMode, ...files, ...insecure }), errors);
}
