/**
 * The "Replay…" form apart from its markup. Replaying the client side sends it to a server: the same fields as a
 * new connection (host, port, TLS, or an endpoint string). Replaying the server side plays it to a client that
 * connects to a new listener: the same fields as a new listener. So this reuses the new-session form's checks
 * (session-form.ts) for the target, and maps the engine's errors onto the same fields.
 */
import type { CommandArgs, ConnectionInfo, ContractError } from "../../../preload/contract.ts";
import { buildRequest, engineErrorFields, initialForm, type FieldErrors, type SessionForm } from "./session-form.ts";

export type ReplaySide = "client" | "server";

/** What the dialog holds: the side, and for each side the target fields of the kind of session it needs. */
export interface ReplayForm {
  side: ReplaySide;
  /** Client side: where to connect (a new connection's fields). */
  client: SessionForm;
  /** Server side: where to listen (a new listener's fields). */
  server: SessionForm;
}

/** "127.0.0.1:6379" or "[::1]:6379" as host and port; null for anything else (a UNIX socket, nothing). */
export function splitAddress(address: string): { host: string; port: string } | null {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  return m && m[1] ? { host: m[1], port: m[2]! } : null;
}

/**
 * The address of the server in a recorded connection. A "server" leg is one Wirescope opened (it was the client),
 * so the server is its peer; a "client" leg is one Wirescope accepted, so the server was Wirescope itself.
 */
export function recordedServer(connection: ConnectionInfo): string {
  return connection.leg === "server" ? connection.peer : connection.host;
}

/**
 * A fresh form: the client side, sent to the server the connection talked to (as recorded), and for the server
 * side any free port on 127.0.0.1.
 */
export function initialReplayForm(connection: ConnectionInfo | undefined): ReplayForm {
  const client = initialForm();
  const server = connection ? splitAddress(recordedServer(connection)) : null;
  if (server) {
    client.host = server.host;
    client.port = server.port;
  }
  return { side: "client", client, server: { ...initialForm(), port: "0" } };
}

/** The session kind whose fields a side uses. */
function kindOf(side: ReplaySide): "client" | "listener" {
  return side === "client" ? "client" : "listener";
}

/** The fields of the side chosen. */
export function sideFields(form: ReplayForm): SessionForm {
  return form.side === "client" ? form.client : form.server;
}

/** The `replay` arguments for connection `conn` of `session`, or the errors to show on the target's fields. */
export function buildReplay(
  session: string,
  conn: number,
  form: ReplayForm,
): { ok: true; args: CommandArgs<"replay"> } | { ok: false; errors: FieldErrors } {
  const built = buildRequest(kindOf(form.side), { ...sideFields(form), saveProfile: false });
  if (!built.ok) return built;
  const request = built.request;
  if (request.kind === "client")
    return { ok: true, args: { session, conn, side: "client", target: request.args.target } };
  if (request.kind === "listener")
    return { ok: true, args: { session, conn, side: "server", listen: request.args.target } };
  return { ok: false, errors: { form: "A replay sends to a server or listens for a client, never both." } };
}

/**
 * Where an engine error belongs: the replay's "listen.port" is the listener form's "target.port", so its issues'
 * paths are renamed before the new-session form's mapping puts them on fields.
 */
export function replayEngineErrors(form: ReplayForm, error: ContractError): FieldErrors {
  const renamed =
    error.issues && form.side === "server"
      ? { ...error, issues: error.issues.map((i) => ({ ...i, path: i.path.replace(/^listen(?=\.|$)/, "target") })) }
      : error;
  return engineErrorFields(kindOf(form.side), sideFields(form), renamed);
}
