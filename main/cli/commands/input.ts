/**
 * What `connect` and `spawn` send: the --send and --send-hex values, checked when the command line is read, or
 * their own standard input, sent as it arrives.
 */
import type { Readable } from "node:stream";
import { decodeSendData, SendEncodingError } from "../../engine/send-encoding.ts";
import { helpHint } from "../args.ts";
import { aborted } from "../command.ts";
import { UsageError } from "../errors.ts";
import type { CliRun } from "../run.ts";

/** One write of the input. */
export interface Send {
  data: string;
  encoding: "text" | "hex";
}

/**
 * The --send and --send-hex values of `order` (options as typed), in order, each checked now: a typo fails before
 * anything starts. Throws UsageError naming `command` and the value.
 */
export function sendsOf(command: string, order: { name: string; value: string | undefined }[]): Send[] {
  return order.flatMap((o) =>
    o.name === "send" || o.name === "send-hex"
      ? [checkedSend(command, o.value ?? "", o.name === "send" ? "text" : "hex")]
      : [],
  );
}

function checkedSend(command: string, data: string, encoding: Send["encoding"]): Send {
  try {
    decodeSendData(data, encoding);
  } catch (err) {
    if (!(err instanceof SendEncodingError)) throw err;
    const option = encoding === "text" ? "--send" : "--send-hex";
    throw new UsageError(`${command}: ${option} '${data}': ${err.message}`, helpHint(command));
  }
  return { data, encoding };
}

/** Sends each --send value in order; false if Ctrl+C came first. Throws the engine's error if the send fails. */
export async function sendEach(run: CliRun, session: string, conn: number, sends: Send[]): Promise<boolean> {
  for (const send of sends) {
    if (run.signal.aborted) return false;
    await run.service.call("send", { session, conn, data: send.data, encoding: send.encoding });
  }
  return true;
}

/**
 * Sends `stdin` as it arrives until it ends (true), or until Ctrl+C or `ended` (false). `ready`, if given, is
 * awaited before each chunk is read: how a sender holds its input while the other side can't take more.
 */
export async function sendStream(
  run: CliRun,
  session: string,
  conn: number,
  stdin: NodeJS.ReadableStream,
  ended: Promise<void>,
  ready?: () => Promise<void>,
): Promise<boolean> {
  const chunks = stdin[Symbol.asyncIterator]();
  const stop = Promise.race([ended, aborted(run.signal)]).then(() => null);
  while (true) {
    if (ready !== undefined && (await Promise.race([ready().then(() => true), stop])) === null) {
      (stdin as Readable).destroy?.();
      return false;
    }
    const next = await Promise.race([chunks.next(), stop]);
    if (next === null) {
      (stdin as Readable).destroy?.();
      return false;
    }
    if (next.done) return true;
    const chunk: unknown = next.value;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    if (bytes.byteLength === 0) continue;
    await run.service.call("send", { session, conn, data: bytes.toString("base64"), encoding: "base64" });
  }
}
