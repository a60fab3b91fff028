/**
 * Helpers for the TLS tests: the test certificates (tests/fixtures/tls), node:tls clients and servers on
 * 127.0.0.1, `openssl s_client` runs, and the timeline's "tls" / "tls-failed" events.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
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

/** Test certificates made with openssl in a temporary folder: a CA (trusted by the engine under test) and leaves. */
export interface TestPKI {
  dir: string;
  /** The CA certificate, PEM. */
  ca: string;
  /** A certificate for localhost and 127.0.0.1, valid now. */
  good: { cert: string; key: string };
  /** A certificate for localhost that expired in 2020. */
  expired: { cert: string; key: string };
  /** A certificate for other.example only. */
  wrongName: { cert: string; key: string };
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
`;

/** Makes a TestPKI in a new temporary folder (synchronously: a few EC keys, well under a second). */
export function makeTestPKI(): TestPKI {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Wirescope test CA", "-days", "30");
  fs.writeFileSync(path.join(dir, "ca.cnf"), CA_CONFIG);
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "serial"), "1000\n");
  const leaf = (name: string, cn: string, san: string, dates: string[]) => {
    run(
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=${san}`,
    );
    run(
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.crt",
      "-keyfile",
      "ca.key",
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt`,
      ...dates,
    );
    return {
      cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8"),
      key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
    };
  };
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
    good: leaf("good", "localhost", "DNS:localhost,IP:127.0.0.1", ["-days", "30"]),
    expired: leaf("expired", "localhost", "DNS:localhost,IP:127.0.0.1", [
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200201000000Z",
    ]),
    wrongName: leaf("wrong", "other.example", "DNS:other.example", ["-days", "30"]),
  };
}

/** What a node:tls upstream saw of each client: the name it asked (SNI) and the ALPN protocols it offered. */
export interface UpstreamSeen {
  servername: string | undefined;
  alpn: string[];
}

/**
 * A node:tls server on 127.0.0.1 that answers each chunk in upper case, with `cert`/`key`, choosing "http/1.1" from
 * what a client offers by ALPN. `seen` lists each client's SNI and ALPN offer. `close` drops its clients too.
 */
export async function upperCaseTLSServer(identity: {
  cert: string;
  key: string;
}): Promise<{ port: number; seen: UpstreamSeen[]; close(): Promise<void> }> {
  const seen: UpstreamSeen[] = [];
  const clients = new Set<tls.TLSSocket>();
  const server = tls.createServer(
    {
      ...identity,
      ALPNCallback: ({ servername, protocols }) => {
        seen.push({ servername, alpn: protocols });
        return protocols.includes("http/1.1") ? "http/1.1" : undefined;
      },
    },
    (socket) => {
      clients.add(socket);
      socket.on("close", () => clients.delete(socket));
      socket.on("data", (d: Buffer) => socket.write(d.toString("latin1").toUpperCase()));
      socket.on("error", () => {});
    },
  );
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const client of clients) client.destroy();
      }),
  };
}

/** A server that greets, answers "STARTTLS" with "220 go ahead" and turns TLS, then answers in upper case. */
export async function startTLSServer(): Promise<{ port: number; servername: () => unknown; close(): Promise<void> }> {
  let secured: tls.TLSSocket | null = null;
  const server = net.createServer((socket) => {
    socket.write("hello\r\n");
    socket.once("data", () => {
      socket.write("220 go ahead\r\n");
      secured = new tls.TLSSocket(socket, { isServer: true, cert: TEST_TLS.cert, key: TEST_TLS.key });
      secured.on("data", (d: Buffer) => secured!.write(d.toString("latin1").toUpperCase()));
      secured.on("error", () => {});
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    servername: () => secured?.servername,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Reads from `readable` until `text` has arrived. */
export function until(readable: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes(text)) {
        readable.off("data", onData);
        resolve(got);
      }
    };
    readable.on("data", onData);
  });
}
