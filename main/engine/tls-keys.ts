/**
 * The TLS key log of recorded connections in SSLKEYLOGFILE format (NSS's key log: "CLIENT_RANDOM <random>
 * <secret>", "CLIENT_HANDSHAKE_TRAFFIC_SECRET ..." one per line), which Wireshark reads to decrypt a capture of the
 * same traffic (Preferences > Protocols > TLS > (Pre)-Master-Secret log filename; tshark `-o tls.keylog_file:`).
 */
import type { CommandResult } from "../../preload/contract.ts";
import type { ConnectionRecord } from "./recording-protocol.ts";

/** The key log lines of `records`, in their order: the text, its line count, and how many connections had keys. */
export function exportTLSKeys(records: Iterable<ConnectionRecord>): CommandResult<"exportTLSKeys"> {
  const lines: string[] = [];
  let connections = 0;
  for (const record of records) {
    if (record.tlsKeys.length === 0) continue;
    connections++;
    lines.push(...record.tlsKeys);
  }
  return { text: lines.map((line) => `${line}\n`).join(""), lines: lines.length, connections };
}
