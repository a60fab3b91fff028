/**
 * A WebSocket client for browser mode that sends frames as they are, with no typing and no codec: what a test uses
 * to send what the workbench never would (wrong types, unknown names, text that is not JSON, huge frames) and to read
 * the answer the server gives each one.
 */
import { WebSocket, type RawData } from "ws";
import { decode } from "../../preload/codec.ts";
import type { Result } from "../../preload/contract.ts";

/** A reply to one frame: the id the server read from it (null when none) and the Result. */
export interface RawReply {
  id: unknown;
  result: Result<unknown>;
}

/** How the server closed the connection. */
export interface RawClose {
  code: number;
  reason: string;
}

/**
 * One connection. Frames go one at a time: `send` resolves with the next reply, skipping events, or rejects when
 * the connection closes first (`closed` then says how). The owner calls `close()`.
 */
export class RawClient {
  /** Resolves when the server closes the connection (or the client does). */
  readonly closed: Promise<RawClose>;
  private waiting: { resolve(reply: RawReply): void; reject(err: Error): void } | null = null;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString("utf8") });
        this.waiting?.reject(new Error(`the connection closed (${code}: ${reason.toString("utf8")})`));
        this.waiting = null;
      });
    });
    ws.on("message", (data: RawData) => {
      const message = decode(data.toString()) as Record<string, unknown>;
      if ("event" in message) return;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve({ id: message.id, result: message.result as Result<unknown> });
    });
  }

  /** Connects to `url` (the server's, token included); resolves once open. */
  static open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    ws.on("error", () => {});
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawClient(ws)));
      ws.once("close", (code: number) => reject(new Error(`could not connect (${code})`)));
    });
  }

  /** Sends `text` as one text frame; resolves with the reply to it. */
  send(text: string): Promise<RawReply> {
    if (this.waiting) throw new Error("RawClient sends one frame at a time");
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.ws.send(text);
    });
  }

  close(): void {
    this.ws.close();
  }
}
