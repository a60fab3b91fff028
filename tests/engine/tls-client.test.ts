/**
 * A protocol on a client session turning its connection TLS (STARTTLS) without naming a server: Wirescope asks for
 * the name the session connected to (SNI) and checks the certificate against it, as a TLS client of that name would.
 */
import { describe, expect, it } from "vitest";
import { ok, useEngine, waitForTimeline } from "../helpers/engine.ts";
import { startTLSServer, TEST_TLS, tlsDetailsOf } from "../helpers/tls.ts";

const { t, defer } = useEngine({ trustedCAs: TEST_TLS.ca });

const STARTTLS_CLIENT = `import { LineReceiver, type ITLSTransport } from "wirescope";
/** Says STARTTLS after the greeting, upgrades on the go-ahead, then sends a line over TLS. */
export default class StartTLSClient extends LineReceiver {
  declare transport: ITLSTransport;
  override lineReceived(line: Buffer): void {
    const text = line.toString();
    if (text === "hello") this.sendLine(Buffer.from("STARTTLS"));
    else if (text === "220 go ahead") this.transport.startTLS();
    else this.log.info("answer {text}", { text });
  }
  handshakeCompleted(): void {
    this.sendLine(Buffer.from("ping"));
  }
}
`;

describe("startTLS on a client session", () => {
  it("asks for the host name the session connected to, and verifies the certificate against it", async () => {
    const server = await startTLSServer();
    defer(() => server.close());
    ok(await t.api.saveProtocol({ path: "starttls-client.ts", content: STARTTLS_CLIENT }));
    const session = ok(
      await t.api.connect({ target: { host: "localhost", port: server.port }, protocol: "starttls-client.ts" }),
    ).id;
    defer(() => t.api.closeSession({ session })); // before the server, whose close waits for its connections
    const events = await waitForTimeline(
      t.api,
      session,
      (e) => e.some((x) => x.kind === "log" && x.text === "answer PING"),
      "the answer over TLS",
    );
    expect(server.servername()).toBe("localhost");
    expect(tlsDetailsOf(events, 1)).toMatchObject({ side: "client", sni: "localhost", verified: true });
  });
});
