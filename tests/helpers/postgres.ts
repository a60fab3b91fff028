/**
 * A throwaway PostgreSQL cluster for tests: Debian's `postgresql` (initdb + postgres from /usr/lib/postgresql/<v>/bin)
 * in a temporary folder, on a free port of 127.0.0.1, with TLS on (the given certificate), trust authentication and
 * no durability. PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as `nobody`, in a
 * folder `nobody` owns.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, pollConnect } from "./net.ts";

const POSTGRES_ROOT = "/usr/lib/postgresql";
/** The user a root test runs the cluster as. */
const UNPRIVILEGED = { name: "nobody", uid: 65534, gid: 65534 };

/** A running cluster: its port, and how to stop it (which also removes its folder). */
export interface PostgresCluster {
  port: number;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin folder, or null. */
function binFolder(): string | null {
  if (!fs.existsSync(POSTGRES_ROOT)) return null;
  const versions = fs
    .readdirSync(POSTGRES_ROOT)
    .filter((v) => fs.existsSync(path.join(POSTGRES_ROOT, v, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(POSTGRES_ROOT, versions[0]!, "bin") : null;
}

/**
 * Starts a cluster serving TLS with `certFile` / `keyFile`. Resolves with the cluster, or with the reason it could
 * not start (PostgreSQL missing, initdb failing, the server not coming up), for the test to skip with.
 */
export async function startPostgres(certFile: string, keyFile: string): Promise<PostgresCluster | { why: string }> {
  const bin = binFolder();
  if (bin === null) return { why: `no PostgreSQL in ${POSTGRES_ROOT}: apt-get install postgresql (.ci/run does it)` };
  const root = process.getuid?.() === 0;
  const owner = root ? { uid: UNPRIVILEGED.uid, gid: UNPRIVILEGED.gid } : {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-pg-"));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  fs.copyFileSync(certFile, path.join(dir, "server.crt"));
  fs.copyFileSync(keyFile, path.join(dir, "server.key"));
  fs.chmodSync(path.join(dir, "server.key"), 0o600); // postgres refuses a key others can read
  if (root)
    for (const f of [dir, "server.crt", "server.key"]) fs.chownSync(path.resolve(dir, f), owner.uid!, owner.gid!);

  const initdb = spawnSync(
    path.join(bin, "initdb"),
    ["-D", path.join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "--no-locale", "-E", "UTF8"],
    { ...owner, encoding: "utf8", timeout: 60_000 },
  );
  if (initdb.status !== 0) {
    remove();
    const as = root ? ` as ${UNPRIVILEGED.name}` : "";
    return { why: `initdb${as} failed (${initdb.error?.message ?? `exit ${initdb.status}`}): ${initdb.stderr}` };
  }
  const port = await freePort();
  const settings = {
    listen_addresses: "127.0.0.1",
    ssl: "on",
    ssl_cert_file: path.join(dir, "server.crt"),
    ssl_key_file: path.join(dir, "server.key"),
    fsync: "off",
  };
  const args = ["-D", path.join(dir, "data"), "-k", dir, "-p", String(port)];
  for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);
  const server: ChildProcess = spawn(path.join(bin, "postgres"), args, {
    ...owner,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  server.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = () => server.exitCode !== null || server.signalCode !== null;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited()) return resolve();
      server.once("exit", () => resolve());
      server.kill("SIGINT"); // fast shutdown
    }).then(remove);
  if (!(await pollConnect(port, { timeoutMs: 20_000, gaveUp: exited }))) {
    await stop();
    return { why: `postgres did not start on 127.0.0.1:${port}: ${log}` };
  }
  return { port, stop };
}
