/**
 * Echo: sends every byte back as it arrives (Twisted's first example, docs/core/howto/servers.rst).
 *
 * Run it in a listener and connect with `nc 127.0.0.1 <port>`: whatever you type comes back. Edit and save this
 * file: live connections switch to the new code without dropping.
 */
import { Protocol, type Bytes } from "wirescope";

/** Writes back each chunk it receives, unchanged. */
export class EchoProtocol extends Protocol {
  /** Called once connected: notes who we echo for on the connection's timeline. */
  override connectionMade(): void {
    this.log.info("echoing for {peer}", { peer: this.transport.getPeer() });
  }

  /** Called with each chunk, split however the network split it: echo it as is. */
  override dataReceived(data: Bytes): void {
    this.transport.write(data);
  }
}

export default EchoProtocol;
