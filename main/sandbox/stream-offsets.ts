/**
 * Where the bytes a sandboxed protocol received sit in the connection's stream, main side. A framer counts the bytes
 * it was given, and the worker adds what its worker got before the instance was built (runtime.ts): that is an
 * offset among the bytes sent to the current worker. The stream has more: the bytes that arrived while the
 * protocol was halted (recorded, never sent), and everything before a worker restart. StreamOffsets maps one to
 * the other, so a decoded message's "in" spans name the bytes the timeline recorded.
 */

/** At most this many gaps are remembered per fd; a span before the oldest is mapped as if there were no gap. */
export const MAX_STREAM_GAPS = 64;

/** From `sent` on (bytes sent to the current worker), sent bytes are the stream's from `stream` on. */
interface Break {
  readonly sent: number;
  readonly stream: number;
}

/** One received stream: a socket's, or a child's fd. */
interface Stream {
  /** Bytes received on it. */
  received: number;
  /** Bytes of it sent to the current worker. */
  sent: number;
  breaks: Break[];
}

/** The streams of one sandboxed connection. Owned by its SandboxedProtocol. */
export class StreamOffsets {
  readonly #streams = new Map<number, Stream>();

  /** A chunk of `length` bytes arrived on `fd` (none for a socket); `sent`: it goes to the worker. */
  received(length: number, fd: number | undefined, sent: boolean): void {
    const s = this.#stream(fd);
    if (sent) {
      const last = s.breaks[s.breaks.length - 1]!;
      if (last.stream + (s.sent - last.sent) !== s.received) {
        s.breaks.push({ sent: s.sent, stream: s.received });
        if (s.breaks.length > MAX_STREAM_GAPS) s.breaks.shift();
      }
      s.sent += length;
    }
    s.received += length;
  }

  /** A new worker took the connection: what is sent from now on counts from 0 there. */
  attached(): void {
    for (const s of this.#streams.values()) {
      s.sent = 0;
      s.breaks = [{ sent: 0, stream: s.received }];
    }
  }

  /**
   * Rewrites, in place, the "in" spans of a decoded message from the worker (unchecked: anything that is not a
   * span with a numeric offset is left for message-check.ts to refuse) from sent offsets to stream offsets.
   */
  mapMessage(message: unknown): void {
    if (typeof message !== "object" || message === null) return;
    const { spans, fieldSpans } = message as { spans?: unknown; fieldSpans?: unknown };
    this.#mapSpans(spans);
    if (typeof fieldSpans === "object" && fieldSpans !== null) {
      for (const list of Object.values(fieldSpans)) this.#mapSpans(list);
    }
  }

  #mapSpans(list: unknown): void {
    if (!Array.isArray(list)) return;
    for (const item of list as unknown[]) {
      const span = item as { dir?: unknown; offset?: unknown; fd?: unknown } | null;
      if (span === null || typeof span !== "object" || span.dir !== "in" || typeof span.offset !== "number") continue;
      const s = this.#streams.get(typeof span.fd === "number" ? span.fd : -1);
      if (s === undefined) continue;
      let at = s.breaks.length - 1;
      while (at > 0 && s.breaks[at]!.sent > span.offset) at--;
      const b = s.breaks[at]!;
      span.offset = b.stream + (span.offset - b.sent);
    }
  }

  #stream(fd: number | undefined): Stream {
    const key = fd ?? -1;
    let s = this.#streams.get(key);
    if (s === undefined) this.#streams.set(key, (s = { received: 0, sent: 0, breaks: [{ sent: 0, stream: 0 }] }));
    return s;
  }
}
