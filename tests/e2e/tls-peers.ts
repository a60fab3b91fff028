/**
 * TLS peers for the end-to-end tests, on 127.0.0.1 only: a node:tls client that trusts the CA it is given (the one
 * Wirescope's Settings names), and a node:tls server with the test certificate of tests/fixtures/tls that answers
 * what it receives in capitals. Node built-ins only, as in ./peers.ts; the caller closes what it opens.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { ROOT } from "./browser-mode.ts";

/** How long a peer waits for what a test expects before it fails with what it got instead. */
const PEER_TIMEOUT_MS = 10_000;

const FIXTURES = path.join(ROOT, "tests", "fixtures", "tls");

/** The test CA, and its server's certificate (for localhost, 127.0.0.1 and ::1) and key. */
export const TEST_CA_FILE = path.join(FIXTURES, "ca.crt");
export const TEST_CERT_FILE = path.join(FIXTURES, "server.crt");
export const TEST_KEY_FILE = path.join(FIXTURES, "server.key");

/** A TLS client connected (handshake done, certificate verified) to a server on 127.0.0.1. */
export interface TLSClient {
  /** What it received so far, as text. */
  readonly received: string;
  /** The TLS version the handshake agreed on ("TLSv1.3"). */
  readonly version: string;
  write(data: string): void;
  /** Resolves once `text` has been received; rejects after a while with what came instead. */
  waitFor(text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to 127.0.0.1:`port` asking for `servername` (SNI), trusting only `ca` (PEM): resolves once the
 * handshake completed and the server's certificate verified; rejects with node's reason otherwise.
 */
export async function tlsClient(port: number, ca: string, servername = "localhost"): Promise<TLSClient> {
  const socket = tls.connect({ host: "127.0.0.1", port, servername, ca });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (received += chunk));
  socket.on("error", () => {});
  return {
    get received() {
      return received;
    },
    version: socket.getProtocol() ?? "",
    write: (data) => void socket.write(data),
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (received.includes(text)) resolve();
          else if (Date.now() - started > PEER_TIMEOUT_MS)
            reject(new Error(`expected ${JSON.stringify(text)}; received ${JSON.stringify(received)}`));
          else setTimeout(check, 20);
        };
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      }),
  };
}

/** A TLS server on 127.0.0.1 (the test certificate) that writes back what it receives in capitals. */
export async function startShoutingTLSServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(
    { key: fs.readFileSync(TEST_KEY_FILE), cert: fs.readFileSync(TEST_CERT_FILE) },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      socket.setEncoding("utf8");
      socket.on("data", (text: string) => socket.write(text.toUpperCase()));
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Runs `openssl s_client` against 127.0.0.1:`port` asking for `servername`, trusting only `caFile` and giving up
 * on a certificate it can't verify (it then sends the alert a strict client sends). Resolves with what it printed.
 */
export function openSSLClient(port: number, caFile: string, servername = "localhost"): Promise<string> {
  const args = ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-CAfile", caFile];
  return new Promise((resolve) => {
    const child = execFile(
      "openssl",
      [...args, "-verify_return_error"],
      { timeout: PEER_TIMEOUT_MS },
      (_err, stdout, stderr) => resolve(stdout + stderr),
    );
    child.stdin?.end();
  });
}
