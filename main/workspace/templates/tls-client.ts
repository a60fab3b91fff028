/**
 * A TLS client: connects in plaintext and turns the connection TLS with `this.transport.startTLS(...)` — at once
 * (a server that speaks TLS from the first byte, such as an HTTPS or `redis-server --tls-port` port), or, with
 * `upgradeAtOnce = false`, when your code calls `this.upgrade()` (after a STARTTLS exchange in clear: SMTP's
 * "STARTTLS" answered by "220", IMAP's, ...). It logs what the handshake agreed on (version, cipher, ALPN, SNI) and
 * the server's certificate, then sends `greeting` and logs each line it receives.
 *
 * The server's certificate is verified against the system's CAs and `servername`; for a server with a private CA,
 * set `ca` to that CA's certificate (its PEM text, "-----BEGIN CERTIFICATE-----..."), or `verify = false` to look
 * at any certificate.
 */
import { LineReceiver, type ITLSTransport, type TLSInfo } from "wirescope";

/** Upgrades its connection to TLS and reports the handshake. */
export class TlsClient extends LineReceiver {
  declare transport: ITLSTransport;
  /** The name the certificate must be for, also sent as SNI. */
  servername = "localhost";
  /** The protocols offered with ALPN, in order of preference; empty: none. */
  alpn: string[] = [];
  /** PEM of a CA to trust instead of the system's; null: the system's. */
  ca: string | null = null;
  /** Whether the server's certificate must verify (false shows it whatever it is). */
  verify = true;
  /** Start TLS as soon as connected; false: plaintext until `upgrade()` is called. */
  upgradeAtOnce = true;
  /** Sent once TLS is up; null: nothing. */
  greeting: string | null = "PING";

  override connectionMade(): void {
    if (this.upgradeAtOnce) this.upgrade();
  }

  /** Turns the connection TLS. What is written after this is encrypted; `handshakeCompleted` follows. */
  upgrade(): void {
    this.transport.startTLS({
      servername: this.servername,
      rejectUnauthorized: this.verify,
      ...(this.alpn.length > 0 ? { ALPNProtocols: this.alpn } : {}),
      ...(this.ca !== null ? { ca: this.ca } : {}),
    });
  }

  /** Called once the handshake is done: logs what it agreed on and who the server is, then greets. */
  handshakeCompleted(info: TLSInfo): void {
    const cert = this.transport.getPeerCertificate();
    this.log.info("TLS {version} {cipher}, ALPN {alpn}, SNI {sni}", {
      version: info.version,
      cipher: info.cipher,
      alpn: info.alpnProtocol ?? "none",
      sni: info.servername ?? "none",
    });
    if (cert !== null) {
      this.log.info("server certificate {subject}, issued by {issuer}, valid until {validTo}", {
        subject: cert.subject?.CN ?? "?",
        issuer: cert.issuer?.CN ?? "?",
        validTo: cert.valid_to,
        fingerprint256: cert.fingerprint256,
      });
    }
    if (this.greeting !== null) this.sendLine(Buffer.from(this.greeting));
  }

  /** Called with each line the server sends (before TLS, and after it in plaintext). */
  override lineReceived(line: Buffer): void {
    this.log.message("line {line}", { line: line.toString("utf8"), tls: this.transport.getTLSInfo() !== null });
  }
}

export default TlsClient;
