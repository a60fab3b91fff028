/**
 * Debian's redis-server on its TLS port behind `wirescope proxy --tls`, with redis-cli speaking TLS to the proxy
 * and trusting Wirescope's CA: SET and GET work end to end, and the timeline shows the RESP in plaintext on both legs.
 */
import { describe, expect, it } from "vitest";
import { REDIS_SERVER } from "../helpers/engine.ts";
import { freePort } from "../helpers/net.ts";
import { startCli, useWorkspace } from "./cli-process.ts";
import { PEER_TEST_TIMEOUT_MS, startPeer, usePeers, useTestPKI, wirescopeCA } from "./tls-peers.ts";

const REDIS_CLI = "/usr/bin/redis-cli";

const ws = useWorkspace();
usePeers();
const pki = useTestPKI();

/** redis-server with TLS only (`--port 0`) on a free port of 127.0.0.1, its certificate from the upstream CA. */
async function startTLSRedis(): Promise<number> {
  const port = await freePort();
  const redis = startPeer(REDIS_SERVER, [
    ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    ...["--tls-cert-file", pki.good.cert, "--tls-key-file", pki.good.key, "--tls-ca-cert-file", pki.ca],
    ...["--tls-auth-clients", "no"],
  ]);
  await redis.waitFor(/Ready to accept connections/);
  return port;
}

/** `redis-cli --tls --cacert <ca> -p <port> ...command`: its output, once it has exited 0. */
async function redisCli(ca: string, port: number, ...command: string[]): Promise<string> {
  const cli = startPeer(REDIS_CLI, ["--tls", "--cacert", ca, "-h", "127.0.0.1", "-p", String(port), ...command]);
  cli.child.stdin!.end();
  const code = await cli.exited();
  if (code !== 0) throw new Error(`redis-cli ${command.join(" ")} exited ${code}: ${cli.stdout} ${cli.stderr}`);
  return cli.stdout;
}

describe("wirescope proxy --tls in front of redis-server's TLS port", { timeout: PEER_TEST_TIMEOUT_MS }, () => {
  it("serves redis-cli --tls trusting Wirescope's CA, and shows the RESP in plaintext", async () => {
    const ca = await wirescopeCA(ws.path);
    const redisPort = await startTLSRedis();
    const cli = startCli(["proxy", "0", `127.0.0.1:${redisPort}`, "--tls"], {
      workspace: ws.path,
      env: { NODE_EXTRA_CA_CERTS: pki.ca },
    });
    const [, port] = await cli.waitForOutput(/^listening on 127\.0\.0\.1:(\d+)\n/);

    expect(await redisCli(ca, Number(port), "SET", "k", "v")).toBe("OK\n");
    expect(await redisCli(ca, Number(port), "GET", "k")).toBe("v\n");

    const r = await cli.stop("SIGINT");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#2 tls TLSv1\.3 \S+ sni=- alpn=- peer=CN=localhost verified/);
    expect(r.stdout).toMatch(/#1 <- \d+ B {2}.*\*3\\r\\n\$3\\r\\nSET\\r\\n\$1\\r\\nk\\r\\n\$1\\r\\nv\\r\\n/);
    expect(r.stdout).toMatch(/#2 -> \d+ B {2}.*\*3\\r\\n\$3\\r\\nSET\\r\\n\$1\\r\\nk\\r\\n\$1\\r\\nv\\r\\n/);
    expect(r.stdout).toMatch(/#2 <- 5 B {2}\+OK\\r\\n/);
    expect(r.stdout).toMatch(/#3 <- \d+ B {2}.*\*2\\r\\n\$3\\r\\nGET\\r\\n\$1\\r\\nk\\r\\n/);
    expect(r.stdout).toMatch(/#3 -> 7 B {2}\$1\\r\\nv\\r\\n/);
  });
});
