/**
 * Helpers for the TLS tests: the test certificates (tests/fixtures/tls), node:tls clients and servers on
 * 127.0.0.1, `openssl s_client` runs, and the timeline's "tls" / "tls-failed" events.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import type { TLSDetails, TLSFailure } from "../../preload/contract.ts";
import type { LifecycleTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";

const FIXTURES = path.join(import.meta.dirname, "../fixtures/tls");

/** The test CA (its key discarded) and a certificate for localhost, 127.0.0.1 and ::1 it signed, with its key. */
export const TEST_TLS = {
  caFile: path.join(FIXTURES, "ca.crt"),
  certFile: path.join(FIXTURES, "server.crt"),
  keyFile: path.join(FIXTURES, "server.key"),
  ca: fs.readFileSync(path.join(FIXTURES, "ca.crt"), "utf8"),
  cert: fs.readFileSync(path.join(FIXTURES, "server.crt"), "utf8"),
  key: fs.readFileSync(path.join(FIXTURES, "server.key"), "utf8"),
};

/** The "tls" and "tls-failed" lifecycle events of connection `conn`. */
export function tlsEvents(events: TimelineEvent[], conn: number): LifecycleTimelineEvent[] {
  return events.filter(
    (e): e is LifecycleTimelineEvent =>
      e.kind === "lifecycle" && e.conn === conn && (e.event === "tls" || e.event === "tls-failed"),
  );
}

/** The fields of connection `conn`'s "tls" event, or undefined. */
export function tlsDetailsOf(events: TimelineEvent[], conn: number): TLSDetails | undefined {
  return tlsEvents(events, conn).find((e) => e.event === "tls")?.fields as TLSDetails | undefined;
}

/** The fields of connection `conn`'s "tls-failed" event, or undefined. */
export function tlsFailureOf(events: TimelineEvent[], conn: number): TLSFailure | undefined {
  return tlsEvents(events, conn).find((e) => e.event === "tls-failed")?.fields as TLSFailure | undefined;
}

/** A node:tls client connected (handshake done) to 127.0.0.1:`port`; rejects with the handshake's error. */
export function tlsClient(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ...options }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Reads from `socket` until `expected` bytes have arrived (or it ends), as text. */
export function readText(socket: tls.TLSSocket, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = () => resolve(text);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (text.length >= expected) {
        socket.off("end", done);
        resolve(text);
      }
    });
    socket.once("end", done);
    socket.once("error", reject);
  });
}

/** What `openssl s_client` printed and how it exited. */
export interface OpenSSLRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `openssl s_client` against 127.0.0.1:`port` with `args`, writing `input` then closing its stdin a moment
 * later; resolves when it exits (killed after `timeoutMs`).
 */
export function sClient(port: number, args: string[], input: string, timeoutMs = 10_000): Promise<OpenSSLRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-ign_eof", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.write(input);
  });
}
