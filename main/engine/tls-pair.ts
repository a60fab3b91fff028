/**
 * The TLS upgrade of a proxied pair: Wirescope becomes the TLS server toward the client and the TLS client toward
 * the upstream, so that both legs go on in plaintext on the timeline. Used at once by a terminating proxy (both
 * legs connected, before the leg protocols see a byte) and later by a leg protocol's `this.transport.startTLS()`
 * (STARTTLS: after it forwarded the server's go-ahead, which goes out in clear).
 *
 * The order follows what each side can know: the client's ClientHello is read first (SNI, ALPN list); the upstream
 * handshake is made with them (its certificate verified unless the session or request says not to); only then does
 * the client get its handshake, with a certificate for the name it asked and the ALPN protocol the upstream chose.
 * Writes to either leg meanwhile are held and go out encrypted. An upstream that fails closes the client leg, and
 * both legs' timelines say why.
 */
import type { TLSRequest } from "../tls/tls-request.ts";
import { clientOptions, hasOwnCertificate, serverOptions } from "../tls/tls-options.ts";
import { tlsFailure } from "../tls/tls-errors.ts";
import type { RecordingProtocol } from "./recording-protocol.ts";
import { TLSStageFailed, type TLSStage } from "./tls-stage.ts";

/**
 * Upgrades the pair `client` (the accepted leg) and `server` (the upstream leg). `upstreamName` is the upstream's
 * host name, asked for (SNI) and verified unless the protocol names another; null when the upstream is an address,
 * and then the client's SNI is passed on. Throws
 * CannotStartTLSError, starting nothing, when either leg can't turn TLS (already TLS, closing, closed).
 */
export function upgradePair(
  client: RecordingProtocol,
  server: RecordingProtocol,
  request: TLSRequest,
  upstreamName: string | null,
): void {
  client.checkCanStartTLS();
  server.checkCanStartTLS();
  const up = server.newTLSStage();
  const down = client.newTLSStage();
  up.holdWrites();
  void run(client, up, down, request, upstreamName);
}

async function run(
  client: RecordingProtocol,
  up: TLSStage,
  down: TLSStage,
  request: TLSRequest,
  upstreamName: string | null,
): Promise<void> {
  const context = client.tlsContext;
  const base = hasOwnCertificate(request) ? Promise.resolve({}) : context.serverOptions();
  base.catch(() => {}); // awaited below, once the upstream is done
  let hello;
  try {
    hello = await down.readHello();
  } catch {
    up.fail({ side: "client", code: "client-failed", message: "the client's side of the TLS upgrade failed first" });
    return;
  }
  // The name asked of the upstream (SNI) and checked on its certificate: the protocol's, else the upstream's host
  // name as the user gave it (the server the user means, whatever name the client used for Wirescope), else the
  // client's SNI (an upstream given by address: the client's name is the only one there is).
  const servername = request.servername ?? upstreamName ?? hello.servername;
  const asked: TLSRequest = {
    ...request,
    ...(servername !== null ? { servername } : {}),
    ...(request.ALPNProtocols === undefined && hello.alpn.length > 0 ? { ALPNProtocols: hello.alpn } : {}),
  };
  let upstream;
  try {
    upstream = await up.begin(clientOptions({ ...asked, cert: undefined, key: undefined }, context, upstreamName));
  } catch (err) {
    const failure = err instanceof TLSStageFailed ? err.failure : null;
    down.fail({
      side: "server",
      code: failure?.code ?? "upstream-failed",
      message: `the upstream's TLS handshake failed: ${failure?.message ?? String(err)}`,
      ...(failure?.hint !== undefined ? { hint: failure.hint } : {}),
    });
    return;
  }
  let options;
  try {
    options = await base;
  } catch (err) {
    down.fail(tlsFailure(err instanceof Error ? err : new Error(String(err)), "server", context.failureContext()));
    return;
  }
  const offered: TLSRequest = { ...request, ALPNProtocols: upstream.alpn !== null ? [upstream.alpn] : [] };
  await down.begin(serverOptions(offered, options)).catch(() => {});
}
