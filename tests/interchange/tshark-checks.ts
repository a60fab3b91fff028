/**
 * Debian's tshark (4.0) as the judge of the pcapng files Wirescope exports: the fields it dissects, and the frames it
 * finds something wrong with. Following a stream's bytes is tests/e2e/tshark.ts's `followTcpRaw`. Reading a file
 * needs no privileges.
 */
import { execFile } from "node:child_process";
import { TSHARK } from "../e2e/tshark.ts";

export { followTcpRaw, hasTshark } from "../e2e/tshark.ts";

/**
 * What a user would see as wrong in Wireshark: a checksum that isn't good (with checking on, 1 is "Good"; 0 is
 * "Bad", 2 "Unverified"), a malformed packet, any TCP analysis flag (retransmission, lost segment, ACKed unseen
 * segment, duplicate ACK, window full, ...), or an expert item of warning severity or worse (0x00600000).
 */
export const PROBLEMS_FILTER =
  "tcp.checksum.status != 1 || ip.checksum.status != 1 || _ws.malformed || tcp.analysis.flags || " +
  "_ws.expert.severity >= 0x00600000";

/** Runs tshark with checksum validation on; resolves with its standard output, rejects with its message. */
export function tshark(args: string[]): Promise<string> {
  const checks = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];
  return new Promise((resolve, reject) => {
    execFile(TSHARK, [...checks, ...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tshark ${args.join(" ")} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** One row per frame (matching `filter`, if given), one string per field ("" when the frame lacks it). */
export async function fieldRows(file: string, fields: string[], filter?: string): Promise<string[][]> {
  const args = ["-r", file, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"];
  for (const f of fields) args.push("-e", f);
  if (filter !== undefined) args.push("-Y", filter);
  const out = await tshark(args);
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"));
}

/**
 * The frames tshark finds something wrong with (PROBLEMS_FILTER), as "frame N: expert messages". A frame whose
 * every expert message is in `expected` (a RST's "Connection reset (RST)", a warning by Wireshark's rules) is left
 * out; a frame with any other message, or flagged without one (a checksum), is kept.
 */
export async function problems(file: string, expected: readonly string[] = []): Promise<string[]> {
  const rows = await fieldRows(file, ["frame.number", "_ws.expert.message"], PROBLEMS_FILTER);
  return rows
    .filter(([, messages]) => !messages || messages.split("|").some((m) => !expected.includes(m)))
    .map(([n, messages]) => `frame ${n}: ${messages ?? ""}`);
}
