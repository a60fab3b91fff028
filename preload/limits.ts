/**
 * How long each string and how many of each thing the contract carries, defined once. The contract's schemas
 * check arguments against them in main (so nothing accepted can make a later answer too big to send), the engine
 * bounds what it reports with them, and the renderer's forms may show or check them before sending.
 *
 * No dependencies: the renderer, the engine and the CLI all import it.
 */

/** A host name or address: DNS names are at most 253 characters (RFC 1035 §2.3.4, less the final dot). */
export const MAX_HOST_LENGTH = 253;
/** A name a person gives or reads: a session, a profile, a template, an imported file's name. */
export const MAX_NAME_LENGTH = 256;
/** A file or folder path (Linux's PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;
/** A protocol file's path in the workspace ("redis.ts", "team/http.ts"), or a reference to one ("template:resp"). */
export const MAX_PROTOCOL_PATH_LENGTH = 200;
/** A Twisted endpoint string (`tcp:host=...:port=...`, with TLS options and paths). */
export const MAX_ENDPOINT_LENGTH = 1024;
/** An identifier the engine made (a session's, an imported capture's). */
export const MAX_ID_LENGTH = 128;
/** What the send box sends, as typed (text with escapes, hex or base64): 4 Mi characters. */
export const MAX_SEND_LENGTH = 4 * 1024 * 1024;
/** A protocol file's source, as the editor saves it: 2 Mi characters. */
export const MAX_SOURCE_LENGTH = 2 * 1024 * 1024;
/** A capture file sent as data rather than named by path (bytes); a bigger one is imported by its path. */
export const MAX_CAPTURE_DATA_BYTES = 64 * 1024 * 1024;

/** A PEM text a protocol's `startTLS` passes (a certificate chain, a key, CAs); a few certificates fit easily. */
export const MAX_PEM_LENGTH = 64 * 1024;
/** ALPN protocols a protocol's `startTLS` offers or accepts. */
export const MAX_ALPN_PROTOCOLS = 32;
/** An ALPN protocol name: its length is one byte on the wire (RFC 7301 §3.1). */
export const MAX_ALPN_NAME_LENGTH = 255;

/** The words of a command a process session runs (its argv). */
export const MAX_ARGV_ENTRIES = 1024;
/** The characters of a command's words added up (Linux takes 128 KiB for a single one: MAX_ARG_STRLEN). */
export const MAX_ARGV_LENGTH = 128 * 1024;
/** Environment entries a process session adds to the engine's own environment. */
export const MAX_ENV_ENTRIES = 256;
/** The characters of those entries' names and values added up. */
export const MAX_ENV_LENGTH = 128 * 1024;

/**
 * The most bytes of each chunk a `readTimeline` with a preview returns: a few lines of a row's preview, never a
 * chunk's worth (a timeline row shows about 160).
 */
export const MAX_PREVIEW_BYTES = 4096;

/** Sessions the engine keeps at once; one more is refused until some are removed. */
export const MAX_SESSIONS = 256;
/** Connection profiles the workspace keeps; saving one more under a new name is refused. */
export const MAX_PROFILES = 1000;
/** Connections of one session listed in its SessionInfo: the open ones first, then the newest closed ones. */
export const MAX_LISTED_CONNECTIONS = 200;
/** An error or a close reason the engine reports (a session's `error`, a connection's `reason`, an error message). */
export const MAX_REASON_LENGTH = 1024;
/** How much of what a user typed an error message quotes back. */
export const MAX_QUOTED_LENGTH = 200;

/**
 * `text` cut to at most `max` characters, an ellipsis marking the cut; unchanged when short enough. For error
 * messages that quote user input and for reasons the engine reports. Never splits a surrogate pair.
 */
export function shorten(text: string, max: number = MAX_QUOTED_LENGTH): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
