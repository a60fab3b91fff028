/**
 * Debian's tshark as a real reader of the captures the workbench exports: `tshark -r file -q -z follow,tcp,raw,N`
 * prints a TCP stream's bytes in hex, one line per segment, the first node's lines flush left and the second's
 * indented by a tab. Reading a file needs no privileges.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";

export const TSHARK = "/usr/bin/tshark";

/** Whether tshark is installed (apt-get install tshark; .ci/run installs it). */
export function hasTshark(): boolean {
  return fs.existsSync(TSHARK);
}

/** One TCP stream of a capture as tshark follows it: who its nodes are and what each sent. */
export interface FollowedStream {
  /** "127.0.0.1:40522": the side that sent first (the client, for a stream with its handshake). */
  node0: string;
  node1: string;
  fromNode0: Buffer;
  fromNode1: Buffer;
}

/** Follows TCP stream `stream` (from 0) of `file` with tshark; rejects with tshark's own message on failure. */
export function followTcpRaw(file: string, stream = 0): Promise<FollowedStream> {
  return new Promise((resolve, reject) => {
    execFile(
      TSHARK,
      ["-r", file, "-q", "-z", `follow,tcp,raw,${stream}`],
      { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`tshark could not read ${file}: ${stderr || err.message}`));
        const node = (n: number) => new RegExp(`^Node ${n}: (\\S+)$`, "m").exec(stdout)?.[1] ?? "";
        const from: [Buffer[], Buffer[]] = [[], []];
        const body = stdout.split(/^Node 1: .*$/m)[1] ?? "";
        for (const line of body.split("\n")) {
          const m = /^(\t?)([0-9a-f]+)$/.exec(line);
          if (m) from[m[1] ? 1 : 0].push(Buffer.from(m[2]!, "hex"));
        }
        resolve({
          node0: node(0),
          node1: node(1),
          fromNode0: Buffer.concat(from[0]),
          fromNode1: Buffer.concat(from[1]),
        });
      },
    );
  });
}
