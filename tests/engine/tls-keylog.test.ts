/**
 * What "Export TLS keys" is for, end to end: a plain Wirescope proxy records the ciphertext of a TLS conversation
 * with a TLS listener behind it, its capture is exported as pcapng, and tshark decrypts that capture with the key log
 * the listener's session exports — showing the plaintext both sides said. Reading files needs no privileges.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { hasTshark, TSHARK } from "../e2e/tshark.ts";
import { bytesOf, ok, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { readText, TEST_TLS, tlsClient } from "../helpers/tls.ts";

const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-tls-config-"));
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));
const { t, defer } = useEngine({ configDir });

/** tshark's decrypted TLS stream `stream` of `file`, as it prints it with `-z follow,tls,ascii`. */
function followTLS(file: string, keylog: string, port: number): Promise<string> {
  const args = ["-r", file, "-o", `tls.keylog_file:${keylog}`, "-d", `tcp.port==${port},tls`];
  return new Promise((resolve, reject) => {
    execFile(TSHARK, [...args, "-q", "-z", "follow,tls,ascii,0"], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tshark failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

describe("TLS key log", () => {
  it.skipIf(!hasTshark())(
    "lets tshark decrypt a capture of the same traffic (skipped without /usr/bin/tshark)",
    async () => {
      const listener = ok(
        await t.api.listen({ target: { port: 0 }, tls: { certFile: TEST_TLS.certFile, keyFile: TEST_TLS.keyFile } }),
      );
      const listenerPort = Number(listener.listeningOn!.split(":").pop());
      const tap = ok(await t.api.proxy({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: listenerPort } }));
      const tapPort = Number(tap.listeningOn!.split(":").pop());

      const client = await tlsClient(tapPort, { servername: "localhost", ca: TEST_TLS.ca });
      defer(() => client.destroy());
      client.write("GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await waitForTimeline(t.api, listener.id, (e) => bytesOf(e, 1, "in").includes("\r\n\r\n"), "the request");
      ok(
        await t.api.send({
          session: listener.id,
          conn: 1,
          data: "HTTP/1.1 200 OK\\r\\n\\r\\nclassified",
          encoding: "text",
        }),
      );
      expect(await readText(client, 29)).toContain("classified");
      // The tap saw only ciphertext.
      const tapped = await waitForTimeline(t.api, tap.id, (e) => bytesOf(e, 1, "out").length > 29, "the ciphertext");
      expect(bytesOf(tapped, 1, "in").includes("GET /secret")).toBe(false);

      const pcap = ok(await t.api.exportPcapng({ session: tap.id, conn: 1 }));
      const keys = ok(await t.api.exportTLSKeys({ session: listener.id }));
      const keylog = path.join(configDir, "keys.log");
      fs.writeFileSync(keylog, keys.text);
      const decrypted = await followTLS(pcap.path, keylog, tapPort);
      expect(decrypted).toContain("GET /secret HTTP/1.1");
      expect(decrypted).toContain("classified");
    },
  );
});
