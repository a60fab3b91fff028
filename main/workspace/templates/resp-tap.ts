/**
 * A tap for a proxy in front of redis-server: logs what passes, decoded — each command the client sends ("command
 * SET greeting hello") and each reply the server sends ("reply OK"), as messages tied to their bytes, each reply
 * answering the oldest command of the client leg.
 *
 * Run it on both legs of a proxy (listen locally, upstream `tcp:host=127.0.0.1:port=6379`). It is a `Tap`: the
 * proxy forwards every byte unchanged the moment it arrives, and this protocol decodes a copy, off the path the
 * bytes take — so it never writes (a tap's `this.transport.write()` throws). To rewrite what passes, extend
 * `Protocol` instead and write what should reach the other side. The proxy runs this file's `ClientLeg` export on
 * the client-facing leg (it receives commands) and `ServerLeg` on the upstream leg (it receives replies).
 *
 * It decodes with the RESP template's decoder (./resp.ts, created beside this file if it was missing).
 */
import { Tap, type Bytes } from "wirescope";
import { commandMessage, NEED_MORE, replyMessage, RespDecoder, RespProtocolError, type RespReply } from "./resp.ts";

/** Logs what this leg receives, decoded; the proxy forwards it. */
export class RespTap extends Tap {
  /** Who sends what this leg receives: "client" (commands, on the client-facing leg) or "server" (replies). */
  sender: "client" | "server" = "client";
  /** Built on first use, once `sender` is final. A plain field (not #private): hot reload keeps instances. */
  private decoder: RespDecoder | null = null;
  /** Set once the bytes were not RESP2: from then on they are only forwarded. */
  private undecodable = false;

  /** Called with each chunk this leg receives, once the proxy forwarded it: decodes it. */
  override dataReceived(data: Bytes): void {
    if (this.undecodable) return;
    const decoder = (this.decoder ??= new RespDecoder(this.sender));
    decoder.append(data);
    for (;;) {
      let value: RespReply | typeof NEED_MORE;
      try {
        value = decoder.next();
      } catch (err) {
        if (!(err instanceof RespProtocolError)) throw err;
        this.log.warn("not RESP2 ({what}): forwarding without decoding from here", { what: err.what });
        this.undecodable = true;
        return;
      }
      if (value === NEED_MORE) return;
      if (this.sender === "client") this.commandReceived(value);
      else this.replyReceived(value);
    }
  }

  /**
   * Called with each command the client sent (its words). The default reports it as a message, "command SET
   * greeting hello", with its bytes: a request, which the reply on the other leg answers.
   */
  commandReceived(command: RespReply): void {
    const { fields, options } = commandMessage(command, this.decoder!.lastMessage!, "in");
    this.log.message("command {line}", fields, options);
  }

  /** Called with each reply the server sent. The default reports it as a message, "reply OK", with its bytes. */
  replyReceived(reply: RespReply): void {
    const { fields, options } = replyMessage(reply, this.decoder!.lastMessage!, "in");
    this.log.message("reply {reply}", fields, options);
  }
}

/** What the proxy runs on its client-facing leg: the bytes it receives are the client's commands. */
export class ClientLeg extends RespTap {
  override sender = "client" as const;
}

/** What the proxy runs on its upstream leg: the bytes it receives are redis-server's replies. */
export class ServerLeg extends RespTap {
  override sender = "server" as const;
}

export default RespTap;
