/**
 * JSON-RPC 2.0 as JSON Lines on a program's stdio: one message per line, ended by "\n" — the Model Context
 * Protocol's stdio transport (https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#stdio).
 *
 * A ProcessProtocol: run it on `wirescope wrap --protocol template:jsonl-rpc -- <server>`, where the client's messages
 * reach it as fd 0 (the server's stdin) and the server's as fd 1, or on a process session. Each message is logged
 * decoded and each response paired with its request, with its latency, by the LSP template's RpcConversation
 * (./lsp.ts, created beside this file if it was missing). It only reads: nothing is written to the server.
 */
import { ProcessProtocol, type Bytes, type Span } from "wirescope";
import { RpcConversation, senderSpan, summary, type Sender } from "./lsp.ts";

/** The longest line accepted: a longer one is logged cut and skipped. */
export const MAX_LINE_LENGTH = 16 * 1024 * 1024;

/** Decodes and logs a JSON Lines JSON-RPC conversation on a server's stdio (see the file's comment). */
export class JsonlRpcTap extends ProcessProtocol {
  /** What each side sent after its last complete line. Plain fields: hot reload keeps them. */
  private partial: Partial<Record<Sender, Buffer>> = {};
  /** Sides whose current line went over MAX_LINE_LENGTH: skipped up to its end. */
  private skipping = new Set<Sender>();
  /** Where each side's `partial` starts in its stream: the bytes of its complete lines so far. */
  private consumed: Record<Sender, number> = { client: 0, server: 0 };
  private conversation: RpcConversation | null = null;

  /** fd 0: what the client wrote to the server's stdin; fd 1: the server's stdout; fd 2 (its log) is left alone. */
  override childDataReceived(childFD: number, data: Bytes): void {
    const sender: Sender | null = childFD === 0 ? "client" : childFD === 1 ? "server" : null;
    if (sender === null) return;
    let buffer = Buffer.concat([this.partial[sender] ?? Buffer.alloc(0), data]);
    for (let end = buffer.indexOf(10); end >= 0; end = buffer.indexOf(10)) {
      const line = buffer.subarray(0, end).toString("utf8").replace(/\r$/, "");
      const span = senderSpan(sender, this.consumed[sender], end + 1);
      buffer = buffer.subarray(end + 1);
      this.consumed[sender] += end + 1;
      if (this.skipping.delete(sender)) continue;
      if (line.trim() !== "") this.lineReceived(sender, line, span);
    }
    if (buffer.length > MAX_LINE_LENGTH) {
      this.log.warn("{sender}: a line over {max} bytes, skipped: {start}", {
        sender,
        max: MAX_LINE_LENGTH,
        start: summary(buffer.subarray(0, 200).toString("utf8")),
      });
      this.skipping.add(sender);
      this.consumed[sender] += buffer.length;
      buffer = Buffer.alloc(0);
    }
    this.partial[sender] = buffer;
  }

  /**
   * Called with each line `sender` sent, without its "\n", and where it is in that side's stream (its "\n"
   * included). The default reports it decoded.
   */
  lineReceived(sender: Sender, line: string, span: Span): void {
    (this.conversation ??= new RpcConversation(this.log)).messageReceived(sender, line, [span]);
  }
}

export default JsonlRpcTap;
