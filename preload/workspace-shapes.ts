/**
 * The contract's workspace shapes: its protocol files and their compile diagnostics, the templates a protocol starts
 * from, the connection profiles saved in it, and the app's settings (where the workspace is). contract.ts
 * re-exports them.
 */
import { z } from "zod";
import { endpoint, givenName, protocolPath } from "./contract-text.ts";

/** A compile error or warning of a protocol file, at its line and column. */
export const Diagnostic = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  message: z.string(),
  severity: z.enum(["error", "warning"]),
});
export type Diagnostic = z.infer<typeof Diagnostic>;

/** A protocol file of the workspace, as the protocol list shows it. */
export const ProtocolFile = z.object({
  path: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  /** The last compile's diagnostics (empty when it compiled). */
  diagnostics: z.array(Diagnostic),
  /** Live connections running this file. */
  liveConnections: z.number(),
});
export type ProtocolFile = z.infer<typeof ProtocolFile>;

/** A template a new protocol file starts from (main/workspace/templates.ts). */
export const Template = z.object({ id: z.string(), title: z.string(), description: z.string() });

/** A saved connection profile: a client, listener or proxy session to start again, by name. */
export const Profile = z.object({
  name: givenName.trim().min(1, "a profile needs a name"),
  kind: z.enum(["client", "listener", "proxy"]),
  /** A Twisted endpoint string: where to connect (client) or listen (listener, proxy). */
  endpoint: endpoint.trim().min(1, "a profile needs an endpoint"),
  /** For a proxy: the endpoint string of the server to forward to. */
  upstream: endpoint.optional(),
  /** A workspace protocol file; absent for raw bytes. */
  protocol: protocolPath.optional(),
});
export type Profile = z.infer<typeof Profile>;

/** The app's settings. */
export const Settings = z.object({
  /** The workspace folder in use (protocols, profiles, captures, exports). */
  workspace: z.string(),
  /** Where the workspace is unless the user moves it (a folder in the OS's documents folder). */
  defaultWorkspace: z.string(),
  /**
   * Why the workspace in use is not the one chosen in Settings: the saved one could not be used at start (it became
   * a file, its disk is not mounted...), so the engine started on the default. Absent once the user chooses again.
   */
  problem: z.string().optional(),
});
export type Settings = z.infer<typeof Settings>;
