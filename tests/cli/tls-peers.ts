/**
 * Real TLS peers for the CLI's TLS tests, from Debian's packages: certificates made with `openssl` in a temporary
 * folder (an upstream CA and its leaves: good, expired, for the wrong name), `openssl s_server` and `openssl
 * s_client` on 127.0.0.1 as child processes, and Wirescope's CA as `wirescope ca` gives it. Every wait is bounded;
 * `stopPeers` (afterEach) kills by pid whatever a test left running.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { runCli } from "./cli-process.ts";

export const OPENSSL = "/usr/bin/openssl";

/** How long a peer may take to start or to answer before the test fails (ms). */
const PEER_WAIT_MS = 15_000;

/**
 * How long one test with real peers may take (ms): several CLI processes (each opens the engine, some a sandboxed
 * protocol) and OpenSSL peers, one after the other, on a machine that may be busy.
 */
export const PEER_TEST_TIMEOUT_MS = 90_000;

const peers = new Set<ChildProcess>();

/** Kills every peer a test started and left running. Registered by `usePeers`. */
export function stopPeers(): void {
  for (const child of peers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  peers.clear();
}

/** Called once at the top of a test file that starts peers: they are stopped after each test. */
export function usePeers(): void {
  afterEach(stopPeers);
}

/** A certificate and its key, PEM files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** What `makeTestPKI` made. */
export interface TestPKI {
  /** The upstream CA's certificate: what the upstream servers' leaves chain to (NODE_EXTRA_CA_CERTS). */
  ca: string;
  /** CN=localhost, SAN localhost and 127.0.0.1, valid now. */
  good: CertFiles;
  /** The same names, valid from 2020-01-01 to 2020-02-01. */
  expired: CertFiles;
  /** CN=wrong.example, SAN DNS:wrong.example only. */
  wrongName: CertFiles;
  /** A text file that is not a key. */
  notAKey: string;
}

const CA_CONFIG = `[ca]
default_ca = upstream
[upstream]
database = index.txt
new_certs_dir = .
certificate = ca.pem
private_key = ca-key.pem
serial = serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
[any_name]
commonName = supplied
`;

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: "pipe", timeout: PEER_WAIT_MS });
}

/** An ECDSA P-256 leaf for `cn` with subjectAltName `san`, signed by the upstream CA with `openssl ca`. */
function leaf(dir: string, name: string, cn: string, san: string, dates: string[]): CertFiles {
  const key = path.join(dir, `${name}-key.pem`);
  const cert = path.join(dir, `${name}.pem`);
  openssl(
    dir,
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key].concat([
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=${san}`,
    ]),
  );
  openssl(dir, ["ca", "-batch", "-config", "ca.cnf", "-in", `${name}.csr`, "-out", cert, ...dates]);
  return { cert, key };
}

/** Makes an upstream CA and its leaves in `dir` with openssl (a second or so). */
/**
 * Called once at the top of a test file: a test PKI made in a temporary folder before its tests and removed after
 * them. The object is filled in by `beforeAll`, so it can be kept in a const and read inside tests.
 */
export function useTestPKI(): TestPKI {
  const pki = {} as TestPKI;
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-pki-"));
    Object.assign(pki, makeTestPKI(dir));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return pki;
}

export function makeTestPKI(dir: string): TestPKI {
  fs.writeFileSync(path.join(dir, "ca.cnf"), CA_CONFIG);
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "serial"), "01\n");
  openssl(
    dir,
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      "ca-key.pem",
      "-out",
      "ca.pem",
      "-subj",
      "/CN=Upstream Test CA",
      "-days",
      "2",
    ]),
  );
  const names = "DNS:localhost,IP:127.0.0.1";
  const notAKey = path.join(dir, "notes.txt");
  fs.writeFileSync(notAKey, "this is not a key\n");
  return {
    ca: path.join(dir, "ca.pem"),
    good: leaf(dir, "good", "localhost", names, ["-days", "2"]),
    expired: leaf(dir, "expired", "localhost", names, ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]),
    wrongName: leaf(dir, "wrong", "wrong.example", "DNS:wrong.example", ["-days", "2"]),
    notAKey,
  };
}

/** A peer process: what it printed, a way to type into it, to wait for output, and to stop it. */
export interface Peer {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Types `text` on its stdin. */
  type(text: string): void;
  /** Resolves with the first match of `pattern` on its stdout (or stderr); rejects after a bounded wait. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with its exit code once it exits by itself; rejects (and kills it) after a bounded wait. */
  exited(timeoutMs?: number): Promise<number | null>;
  /** Kills it (by its pid) and waits until it is gone. */
  stop(): Promise<void>;
}

/** Starts `command ...args` with its stdin an open pipe. */
export function startPeer(command: string, args: string[], env?: Record<string, string>): Peer {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  peers.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("latin1")));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("latin1")));
  child.stdin!.on("error", () => {}); // a peer that exited before reading what was typed
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const describe = () => `${command} ${args.join(" ")}; stdout: ${stdout}; stderr: ${stderr}`;
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    type(text) {
      child.stdin!.write(text);
    },
    async waitFor(pattern, timeoutMs = PEER_WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = pattern.exec(stdout) ?? pattern.exec(stderr);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ${pattern} from ${describe()}`);
    },
    async exited(timeoutMs = PEER_WAIT_MS) {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await closed;
      clearTimeout(timer);
      if (child.signalCode === "SIGKILL") throw new Error(`it did not exit in time: ${describe()}`);
      return code;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await closed;
      peers.delete(child);
    },
  };
}

/** `openssl s_server` with `files` on a free port of 127.0.0.1; resolves once it accepts, with its port. */
export async function startSServer(files: CertFiles, extra: string[] = []): Promise<Peer & { port: number }> {
  const server = startPeer(
    OPENSSL,
    ["s_server", "-accept", "127.0.0.1:0", "-cert", files.cert, "-key", files.key].concat(extra),
  );
  const [, port] = await server.waitFor(/^ACCEPT 127\.0\.0\.1:(\d+)$/m);
  return Object.assign(server, { port: Number(port) });
}

/** `openssl s_client` to 127.0.0.1:`port` with `args` (-CAfile, -servername...), typing what the test types. */
export function startSClient(port: number, args: string[]): Peer {
  return startPeer(OPENSSL, ["s_client", "-connect", `127.0.0.1:${port}`, ...args]);
}

/** Wirescope's CA certificate file, as a user finds it: the last line of `wirescope ca` (creating the CA). */
export async function wirescopeCA(workspace: string): Promise<string> {
  const r = await runCli(["ca"], { workspace });
  if (r.code !== 0) throw new Error(`wirescope ca failed: ${r.stderr}`);
  const file = r.stdout.trim().split("\n").at(-1)!;
  if (!fs.existsSync(file)) throw new Error(`wirescope ca's last line is not a file: ${r.stdout}`);
  return file;
}

/** The lines of an SSLKEYLOGFILE, without comments, sorted (so that two logs of one session compare equal). */
export function keylogLines(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .sort();
}
