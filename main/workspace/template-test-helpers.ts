/**
 * Helpers for the templates' unit tests: the ways a stream is split, feeding it as a transport would, the events a
 * protocol logs meanwhile, and the bytes a decoded message's spans point at.
 */
import { chunkings as coreChunkings } from "../../core/testing.ts";
import { globalLogPublisher, type LogEvent, type LoggedMessage, type Span } from "../../core/index.ts";

/** Every way a stream is fed (core/testing.ts `chunkings`), a string encoded as UTF-8. */
export function chunkings(input: string | Uint8Array): [way: string, chunks: Buffer[]][] {
  return coreChunkings(input, "utf8");
}

/** Feeds chunks as a real transport does: nothing more once the protocol asked to disconnect. */
export function feed(
  protocol: { dataReceived(data: Buffer): unknown; transport: { disconnecting: boolean } },
  chunks: Buffer[],
): void {
  for (const chunk of chunks) {
    if (protocol.transport.disconnecting) return;
    protocol.dataReceived(chunk);
  }
}

/** The events `protocol` logs while `run` runs. */
export function logsOf(protocol: object, run: () => void): LogEvent[] {
  const events: LogEvent[] = [];
  const stop = globalLogPublisher.addObserver((e) => {
    if (e.log_source === protocol) events.push(e);
  });
  try {
    run();
  } finally {
    stop();
  }
  return events;
}

/** The decoded messages among `events` (those reported with `log.message`), with what they carry. */
export function messagesOf(events: LogEvent[]): (LogEvent & { log_message: LoggedMessage })[] {
  return events.filter((e): e is LogEvent & { log_message: LoggedMessage } => e.log_message !== undefined);
}

/**
 * The bytes `spans` point at, as text (Latin-1, so any byte round-trips), in a connection's streams: what went `in`
 * and what went `out` (for a process, by fd: `in` is fd 1 unless the span says 2, `out` is fd 0).
 */
export function spannedText(spans: Span[], streams: Partial<Record<string, Uint8Array>>): string {
  return spans
    .map((span) => {
      const key = span.fd === undefined ? span.dir : `${span.dir}:${span.fd}`;
      const stream = streams[key];
      if (stream === undefined) throw new Error(`no stream ${key} for span ${JSON.stringify(span)}`);
      if (span.offset + span.length > stream.length) throw new Error(`span ${JSON.stringify(span)} past the stream`);
      return Buffer.from(stream.subarray(span.offset, span.offset + span.length)).toString("latin1");
    })
    .join("");
}
