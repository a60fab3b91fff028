/**
 * `wirescope ca` as a real process, on the settings folder of $WIRESCOPE_CONFIG_DIR (as the app finds it): the CA's
 * path is the last line of stdout (made on first use, the same one after), `--pem` prints the certificate alone,
 * `--regenerate` replaces it, damaged files exit 3 naming the file; and the README's
 * `openssl s_client -CAfile "$(wirescope ca | tail -1)"` verifies a server that uses the CA's leaves.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CA_CERT_FILE, CertificateAuthority } from "../../main/tls/ca.ts";
import { EXIT } from "../../main/cli/errors.ts";
import { jsonLines, runCli, useWorkspace } from "./cli-process.ts";

const ws = useWorkspace();

/** The settings folder the CLI runs get (cli-process.ts's default). */
function configDir(): string {
  return path.join(ws.path, ".config");
}

function lastLine(stdout: string): string {
  return stdout.trimEnd().split("\n").at(-1) ?? "";
}

describe("wirescope ca", () => {
  it("makes the CA on first use and prints what it is, its fingerprint, and its path last", async () => {
    const r = await runCli(["ca"], { workspace: ws.path });
    expect(r.code).toBe(EXIT.ok);
    const file = path.join(configDir(), CA_CERT_FILE);
    expect(lastLine(r.stdout)).toBe(file);
    const cert = new X509Certificate(fs.readFileSync(file));
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`CN=Wirescope CA, O=Wirescope, valid from ${cert.validFrom} to ${cert.validTo}`);
    expect(lines[1]).toBe(`SHA-256 ${cert.fingerprint256}`);

    const again = await runCli(["ca"], { workspace: ws.path });
    expect(again.stdout).toBe(r.stdout);
  });

  it("--pem prints the certificate alone; --json its fields", async () => {
    const pem = await runCli(["ca", "--pem"], { workspace: ws.path });
    expect(pem.code).toBe(EXIT.ok);
    expect(pem.stdout).toBe(fs.readFileSync(path.join(configDir(), CA_CERT_FILE), "utf8"));
    expect(pem.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);

    const json = await runCli(["ca", "--json"], { workspace: ws.path });
    const [record, summary] = jsonLines(json.stdout);
    expect(record).toMatchObject({
      kind: "ca",
      path: path.join(configDir(), CA_CERT_FILE),
      fingerprint256: new X509Certificate(pem.stdout).fingerprint256,
    });
    expect(record).not.toHaveProperty("pem");
    expect(summary).toMatchObject({ kind: "summary", exitCode: 0 });
  });

  it("--regenerate makes a new CA, says so on stderr, and prints its path last", async () => {
    const before = await runCli(["ca", "--pem"], { workspace: ws.path });
    const r = await runCli(["ca", "--regenerate"], { workspace: ws.path });
    expect(r.code).toBe(EXIT.ok);
    expect(r.stderr).toMatch(/made a new CA: clients that trusted the old one must trust this one/);
    const file = lastLine(r.stdout);
    expect(file).toBe(path.join(configDir(), CA_CERT_FILE));
    const now = fs.readFileSync(file, "utf8");
    expect(now).not.toBe(before.stdout);
    expect(r.stdout).toContain(`SHA-256 ${new X509Certificate(now).fingerprint256}`);
  });

  it("a damaged CA exits 3 naming the file and the way out; --regenerate repairs it", async () => {
    fs.mkdirSync(configDir(), { recursive: true });
    const file = path.join(configDir(), CA_CERT_FILE);
    fs.writeFileSync(file, "not a certificate");
    fs.writeFileSync(path.join(configDir(), "wirescope-ca-key.pem"), "not a key");
    const r = await runCli(["ca"], { workspace: ws.path });
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`wirescope: Wirescope's certificate authority in ${file} is damaged`);
    expect(r.stderr).toMatch(/wirescope ca --regenerate/);
    const repaired = await runCli(["ca", "--regenerate"], { workspace: ws.path });
    expect(repaired.code).toBe(EXIT.ok);
    expect(lastLine(repaired.stdout)).toBe(file);
  });

  it('openssl s_client -CAfile "$(wirescope ca | tail -1)" verifies a server using the CA\'s leaves', async () => {
    const caFile = lastLine((await runCli(["ca"], { workspace: ws.path })).stdout);
    const ca = await CertificateAuthority.open(configDir());
    const server = tls.createServer(ca.serverOptions(), (socket) => socket.write("hello\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = promisify(execFile)(
        "openssl",
        [
          "s_client",
          "-connect",
          `127.0.0.1:${port}`,
          "-servername",
          "localhost",
          "-CAfile",
          caFile,
          "-verify_return_error",
        ],
        { timeout: 10_000 },
      );
      client.child.stdin?.end(); // nothing to send: s_client says what it verified and leaves
      const { stdout } = await client;
      expect(stdout).toMatch(/Verify return code: 0 \(ok\)/);
      expect(stdout).toMatch(/subject=CN = localhost, O = Wirescope/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
