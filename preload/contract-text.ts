/**
 * The contract's strings with a limit: the one helper every schema module of the contract (contract.ts and its
 * *-shapes.ts) builds its string fields with, so that every limit is checked, and worded, alike; and the string
 * fields more than one of them share (a path, a name, a protocol file, an endpoint).
 */
import { z } from "zod";
import { MAX_ENDPOINT_LENGTH, MAX_NAME_LENGTH, MAX_PATH_LENGTH, MAX_PROTOCOL_PATH_LENGTH } from "./limits.ts";

/**
 * A string of at most `max` characters (limits.ts), checked before anything else so that a huge one costs no more
 * work; over it, the message says what was wrong and what to do: "the host is 15,728,640 characters; at most 253".
 */
export function text(what: string, max: number): z.ZodString {
  return z.string().max(max, {
    error: (issue) =>
      `${what} is ${lengthOf(issue.input).toLocaleString("en-US")} characters; at most ${max.toLocaleString("en-US")}`,
  });
}

function lengthOf(input: unknown): number {
  return typeof input === "string" ? input.length : 0;
}

/** A file or folder path the user gives. */
export const filePath = text("the path", MAX_PATH_LENGTH);
/** A name a person gives (a session's, a profile's). */
export const givenName = text("the name", MAX_NAME_LENGTH);
/** A protocol file in the workspace ("redis.ts"): the workspace refuses a longer one (protocol-path.ts). */
export const protocolPath = text("the protocol path", MAX_PROTOCOL_PATH_LENGTH);
/** A Twisted endpoint string, a client's ("tcp:host=127.0.0.1:port=6379") or a server's ("tcp:0"). */
export const endpoint = text("the endpoint", MAX_ENDPOINT_LENGTH);
