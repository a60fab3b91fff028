/**
 * The new-session form's logic, apart from its markup: what the user typed becomes the arguments of `connect`,
 * `listen` or `proxy`, checked with the contract's own schemas first; and an error — from those schemas or from the
 * engine — becomes a message on the field the user should change. The dialog shows `FieldErrors` next to each
 * field and sends nothing while there are any.
 */
import {
  ClientTarget,
  ListenTarget,
  Profile,
  type CommandArgs,
  type ContractError,
  type ErrorCode,
} from "../../../preload/contract.ts";
import { addError, argumentIssues } from "./form-errors.ts";
import {
  buildSpawnRequest,
  initialProcessFields,
  spawnErrorFields,
  SPAWN_PATHS,
  type ProcessFormFields,
} from "./process-form.ts";
import { initialTLS, listenTLSArgument, proxyTLSArgument, TLS_PATHS, type TLSFormFields } from "./tls-form.ts";

export type SessionKind = "client" | "listener" | "proxy" | "process";

/**
 * What the dialog's fields hold, as typed. Unused fields for a kind are ignored; the TLS fields (lib/tls-form.ts)
 * are a listener's and a proxy's; the process fields (lib/process-form.ts) a process's.
 */
export interface SessionForm extends TLSFormFields, ProcessFormFields {
  /** A Twisted endpoint string: where a client connects, or where a listener or proxy listens. */
  endpoint: string;
  host: string;
  port: string;
  /** Client: TLS to the server; proxy: TLS to the upstream (a terminating proxy's upstream is TLS anyway). */
  tls: boolean;
  interface: string;
  upstreamEndpoint: string;
  upstreamHost: string;
  upstreamPort: string;
  /** "" for raw bytes, a workspace file, or "template:<id>". */
  protocol: string;
  saveProfile: boolean;
  profileName: string;
}

export type Field = Exclude<keyof SessionForm, "saveProfile"> | "form";
export type FieldErrors = Partial<Record<Field, string>>;

export type SessionRequest =
  | { kind: "client"; args: CommandArgs<"connect"> }
  | { kind: "listener"; args: CommandArgs<"listen"> }
  | { kind: "proxy"; args: CommandArgs<"proxy"> }
  | { kind: "process"; args: CommandArgs<"spawn"> };

/** An empty form, or one filled from a saved profile. */
export function initialForm(profile?: Profile): SessionForm {
  return {
    endpoint: profile?.endpoint ?? "",
    host: "",
    port: "",
    tls: false,
    ...initialTLS(),
    ...initialProcessFields(),
    interface: "",
    upstreamEndpoint: profile?.upstream ?? "",
    upstreamHost: "",
    upstreamPort: "",
    protocol: profile?.protocol ?? "",
    saveProfile: false,
    profileName: profile?.name ?? "",
  };
}

/** A port as typed: undefined when empty, NaN when it isn't a whole number (reported before the schema runs). */
function parsePort(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** Which form field each schema path names, per kind (paths as in the contract's error messages). */
const PATHS: Record<SessionKind, Record<string, Field>> = {
  client: {
    "target.endpoint": "endpoint",
    "target.host": "host",
    "target.port": "port",
    "target.tls": "tls",
    target: "endpoint",
    protocol: "protocol",
    name: "profileName",
  },
  listener: {
    "target.endpoint": "endpoint",
    "target.port": "port",
    "target.interface": "interface",
    target: "endpoint",
    protocol: "protocol",
    name: "profileName",
    ...TLS_PATHS,
  },
  proxy: {
    "listen.endpoint": "endpoint",
    "listen.port": "port",
    "listen.interface": "interface",
    listen: "endpoint",
    "upstream.endpoint": "upstreamEndpoint",
    "upstream.host": "upstreamHost",
    "upstream.port": "upstreamPort",
    "upstream.tls": "tls",
    upstream: "upstreamEndpoint",
    clientProtocol: "protocol",
    serverProtocol: "protocol",
    name: "profileName",
    ...TLS_PATHS,
  },
  process: SPAWN_PATHS,
};

function fieldFor(kind: SessionKind, path: string): Field {
  return PATHS[kind][path] ?? "form";
}

const add = addError<Field>;

/** The client target of the fields (a client's, or a proxy's upstream), checked with the contract's schema. */
function clientTarget(
  endpoint: string,
  host: string,
  portText: string,
  tls: boolean,
  prefix: "target" | "upstream",
  kind: SessionKind,
  errors: FieldErrors,
): ClientTarget | null {
  const usesEndpoint = endpoint.trim() !== "";
  const port = parsePort(portText);
  if (!usesEndpoint && Number.isNaN(port)) {
    add(errors, fieldFor(kind, `${prefix}.port`), "a port is a whole number from 1 to 65535");
  }
  const target: ClientTarget = usesEndpoint ? { endpoint } : { host, port: Number.isNaN(port) ? undefined : port, tls };
  const parsed = ClientTarget.safeParse(target);
  if (parsed.success) return Number.isNaN(port) && !usesEndpoint ? null : parsed.data;
  for (const issue of parsed.error.issues) {
    add(errors, fieldFor(kind, [prefix, ...issue.path].join(".")), issue.message);
  }
  return null;
}

/** The listen target of the fields, checked with the contract's schema. */
function listenTarget(
  form: SessionForm,
  prefix: "target" | "listen",
  kind: SessionKind,
  errors: FieldErrors,
): ListenTarget | null {
  const usesEndpoint = form.endpoint.trim() !== "";
  const port = parsePort(form.port);
  if (!usesEndpoint && Number.isNaN(port)) {
    add(errors, fieldFor(kind, `${prefix}.port`), "a port is a whole number from 0 to 65535 (0 picks a free one)");
  }
  const iface = form.interface.trim();
  const target: ListenTarget = usesEndpoint
    ? { endpoint: form.endpoint }
    : { port: Number.isNaN(port) ? undefined : port, ...(iface ? { interface: iface } : {}) };
  const parsed = ListenTarget.safeParse(target);
  if (parsed.success) return Number.isNaN(port) && !usesEndpoint ? null : parsed.data;
  for (const issue of parsed.error.issues) {
    add(errors, fieldFor(kind, [prefix, ...issue.path].join(".")), issue.message);
  }
  return null;
}

/**
 * The command to send for the form, or the errors to show. Runs the same schemas the engine runs, so that a bad
 * port or an empty host is explained before anything is sent.
 */
export function buildRequest(
  kind: SessionKind,
  form: SessionForm,
): { ok: true; request: SessionRequest } | { ok: false; errors: FieldErrors } {
  if (kind === "process") {
    const built = buildSpawnRequest(form);
    return built.ok ? { ok: true, request: { kind, args: built.args } } : built;
  }
  const errors: FieldErrors = {};
  const protocol = form.protocol === "" ? null : form.protocol;
  let name: string | undefined;
  if (form.saveProfile) {
    const checked = Profile.shape.name.safeParse(form.profileName);
    if (checked.success) name = checked.data;
    else add(errors, "profileName", checked.error.issues[0]?.message ?? "a profile needs a name");
  }
  let request: SessionRequest | null = null;
  if (kind === "client") {
    const target = clientTarget(form.endpoint, form.host, form.port, form.tls, "target", kind, errors);
    if (target) request = { kind, args: { target, protocol, ...(name ? { name } : {}) } };
  } else if (kind === "listener") {
    const target = listenTarget(form, "target", kind, errors);
    const tls = listenTLSArgument(form, errors);
    if (target && tls !== null)
      request = { kind, args: { target, protocol, ...(tls ? { tls } : {}), ...(name ? { name } : {}) } };
  } else {
    const listen = listenTarget(form, "listen", kind, errors);
    const upstream = clientTarget(
      form.upstreamEndpoint,
      form.upstreamHost,
      form.upstreamPort,
      form.tls && form.tlsMode !== "terminate",
      "upstream",
      kind,
      errors,
    );
    const tls = proxyTLSArgument(form, errors);
    if (listen && upstream && tls !== null) {
      request = {
        kind,
        args: {
          listen,
          upstream,
          clientProtocol: protocol,
          serverProtocol: protocol,
          ...(tls ? { tls } : {}),
          ...(name ? { name } : {}),
        },
      };
    }
  }
  if (request && Object.keys(errors).length === 0) return { ok: true, request };
  return { ok: false, errors };
}

/** Client connection failures, by the core's error names: which field most likely holds the mistake. */
const CONNECT_FAILURES: Partial<Record<ErrorCode, "host" | "port">> = {
  ConnectionRefusedError: "port",
  DNSLookupError: "host",
  NoRouteError: "host",
  TimeoutError: "host",
  ConnectError: "port",
};

/**
 * Where an engine error belongs in the form: one with `issues` names its fields ("target.port: ...", or a key file
 * that is not a key: "tls.keyFile: ..."), "bad-endpoint" is about an endpoint string, "cannot-listen" about the
 * port (or the endpoint that named it), a protocol that doesn't compile or exist about the protocol; anything else
 * is shown for the whole form.
 */
export function engineErrorFields(kind: SessionKind, form: SessionForm, error: ContractError): FieldErrors {
  if (kind === "process") return spawnErrorFields(error);
  const errors: FieldErrors = {};
  const usesEndpoint = form.endpoint.trim() !== "";
  const usesUpstreamEndpoint = kind === "proxy" && form.upstreamEndpoint.trim() !== "";
  if (error.code === "invalid-arguments" || error.issues !== undefined) {
    // [{ path: "target.port", message: "a port is from 0 to 65535" }, { path: "tls.keyFile", ... }]
    for (const { path, message } of argumentIssues(error)) {
      add(errors, path === "" ? "form" : fieldFor(kind, path), message);
    }
    return errors;
  }
  switch (error.code) {
    case "bad-endpoint": {
      add(errors, badEndpointField(kind, form, error.message, usesEndpoint, usesUpstreamEndpoint), error.message);
      return errors;
    }
    case "cannot-listen":
      add(errors, usesEndpoint ? "endpoint" : "port", error.message);
      return errors;
    case "compile-error":
    case "protocol-error":
    case "not-found":
    case "invalid-path":
    case "unknown-template":
    case "no-template-source":
      add(errors, "protocol", error.message);
      return errors;
  }
  const likely = CONNECT_FAILURES[error.code];
  if (kind === "client" && likely) add(errors, usesEndpoint ? "endpoint" : likely, error.message);
  else add(errors, "form", error.message);
  return errors;
}

/**
 * Which endpoint a "bad-endpoint" error is about. A proxy has two (where it listens, where it forwards to): the
 * parser quotes what it could not use ("Unknown endpoint type: 'foo'"), so the string that contains it is the one.
 */
function badEndpointField(
  kind: SessionKind,
  form: SessionForm,
  message: string,
  usesEndpoint: boolean,
  usesUpstreamEndpoint: boolean,
): Field {
  if (usesEndpoint && usesUpstreamEndpoint) {
    const quoted = [...message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    const inUpstream = quoted.some((q) => form.upstreamEndpoint.includes(q));
    const inListen = quoted.some((q) => form.endpoint.includes(q));
    return inUpstream && !inListen ? "upstreamEndpoint" : "endpoint";
  }
  if (usesEndpoint) return "endpoint";
  if (usesUpstreamEndpoint) return "upstreamEndpoint";
  if (kind === "client") return "host";
  if (kind === "listener") return "interface";
  return "upstreamHost";
}
