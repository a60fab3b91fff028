/**
 * Offline decoding: a workspace protocol run over a recorded or imported conversation as a passive
 * decoder, so a protocol can be debugged without the server.
 *
 * - The protocol runs in the sandbox, in a worker of its own whose reactor time is virtual (virtual-clock.ts): the
 *   clock starts at the conversation's opening time and is advanced to each event's recorded time before the event
 *   is delivered, so `callLater`, `seconds()` and LoopingCall see the original timing and two runs give the same
 *   result. A decoder that loops forever is stopped by the sandbox's watchdog, like a live one.
 * - Passive: its transport (passive-transport.ts) sends nothing. What it would have written, closed or half-closed
 *   is shown as a debug log line on the timeline ("would write 14 bytes: ...") at the time it did it; closing
 *   ends the instance as a real close would (connectionLost), while the recording goes on.
 * - Sides: "client" runs one instance playing the client (it reads what the server sent), "server" one playing the
 *   server (it reads what the client sent), "both" one of each on the same clock; with "both" each line the
 *   protocol logs is prefixed with the side its instance plays ("client: reply OK"). A file exporting `ClientLeg` /
 *   `ServerLeg` (a proxy tap) runs `ServerLeg` as the client (like a proxy's upstream leg, it receives the server's
 *   bytes) and `ClientLeg` as the server; otherwise the default export runs.
 * - Recorded FINs reach the reading instance as readConnectionLost (the core's rule then closes a protocol that
 *   is not half-closeable), a RST as connectionLost(ConnectionLost), and the end of the recording as
 *   connectionLost with the recorded reason.
 */
import { ConnectionAborted, ConnectionDone, ConnectionLost } from "../../core/errors.ts";
import type { ResplitReport } from "../../preload/contract.ts";
import type { LifecycleEvent, NewTimelineEvent, Span } from "../../preload/timeline.ts";
import { otherSide, type Conversation, type Side } from "../interchange/conversation.ts";
import { betweenBlocks } from "../interchange/stop-check.ts";
import type { SandboxGroup } from "../sandbox/host.ts";
import type { SandboxedProtocol } from "../sandbox/sandboxed-protocol.ts";
import { checkMessage, type CheckedMessage } from "./message-check.ts";
import { endpointAddress, PassiveTransport } from "./passive-transport.ts";
import { firstDifference, resplitConversation, runRandom, type DecodedMessage } from "./resplit.ts";

/** Which instances a decode runs (the contract's `side`). */
export type DecodeSide = Side | "both";

/** The export a proxy-leg file runs for an instance playing each side (see the file's comment). */
export const LEG_EXPORT_FOR: Record<Side, string> = { client: "ServerLeg", server: "ClientLeg" };

/** Bytes, or events, delivered between two waits for the worker: bounds what is queued for it. */
const BARRIER_BYTES = 256 * 1024;
const BARRIER_EVENTS = 512;
/** How much of a write a "would write" line shows. */
const PREVIEW_BYTES = 48;

/** Something a decode put on the timeline, `t` µs after the conversation's epoch (no connection yet). */
export type DecodeOutput = { t: number } & (
  | {
      kind: "log";
      level: "debug" | "info" | "warn" | "error" | "critical";
      text: string;
      fields: Record<string, unknown>;
      /** Logged by the protocol (compared by re-split runs), not a line the decoder wrote ("would write ..."). */
      fromProtocol: boolean;
      /** A decoded message's spans, field spans and pairing, in the decode session's directions. */
      message?: CheckedMessage;
    }
  | { kind: "lifecycle"; event: LifecycleEvent; detail: string }
);

/** What one decode run produced. */
export interface DecodeRun {
  /** In the order they happened. */
  outputs: DecodeOutput[];
  /** What re-split runs compare: the protocol's log lines, its errors and halts, in order. */
  messages: DecodedMessage[];
  /** The class each instance ran ("default", "ServerLeg"), by the side it played. */
  classes: Partial<Record<Side, string>>;
  /** Why each instance was halted, by side. */
  halted: Partial<Record<Side, string>>;
  /** Set when the sandbox worker was stopped (a hang, out of memory): the run is incomplete. */
  stopped: string | null;
}

/** One protocol instance of a run. */
interface Instance {
  plays: Side;
  /** Whose bytes it receives: the other side's. */
  reads: Side;
  protocol: SandboxedProtocol;
  closed: boolean;
}

/**
 * Runs `file` (already loaded into `group`, whose clock is virtual) over `conversation` once and returns what it
 * did. Never throws for what the protocol does: errors, halts and a dead worker are in the result. The group may be
 * used for another run afterwards if `stopped` is null. Throws `signal`'s reason when it is aborted (checked each
 * time the decode waits for the worker); the caller disposes the group then.
 */
export async function decodeOnce(
  group: SandboxGroup,
  file: string,
  conversation: Conversation,
  side: DecodeSide,
  signal?: AbortSignal,
): Promise<DecodeRun> {
  const run: DecodeRun = { outputs: [], messages: [], classes: {}, halted: {}, stopped: null };
  const clock = conversationClock(conversation);
  let now = conversation.openedAt;
  group.onClock = (seconds) => (now = clock.micros(seconds));
  const plays: Side[] = side === "both" ? ["client", "server"] : [side];
  const out = (output: DecodeOutput) => run.outputs.push(output);
  const note = (prefix: string, event: LifecycleEvent, detail: string) => {
    out({ t: now, kind: "lifecycle", event, detail: prefix + detail });
    run.messages.push({ text: `${event}: ${prefix}${detail}`, fields: {} });
  };
  const decoderLine = (prefix: string, text: string, fields: Record<string, unknown> = {}) =>
    out({ t: now, kind: "log", level: "debug", text: prefix + text, fields, fromProtocol: false });

  const instances: Instance[] = [];
  const close = (instance: Instance, reason: Error) => {
    if (instance.closed) return;
    instance.closed = true;
    instance.protocol.connectionLost(reason);
  };
  group.setClock(clock.seconds(conversation.openedAt));
  for (const role of plays) {
    const prefix = side === "both" ? `${role}: ` : "";
    const legExport = LEG_EXPORT_FOR[role];
    const exportName = group.exportsOf(file).includes(legExport) ? legExport : undefined;
    run.classes[role] = exportName ?? "default";
    const protocol = group.attach(exportName === undefined ? { moduleKey: file } : { moduleKey: file, exportName }, {
      onLog: (e) => {
        const output: DecodeOutput = {
          t: now,
          kind: "log",
          level: e.level,
          text: prefix + e.text,
          fields: e.fields,
          fromProtocol: true,
        };
        if (e.message !== undefined) {
          const checked = checkMessage(e.message);
          if (checked.ok) output.message = role === "client" ? checked.message : seenFromServer(checked.message);
          else note(prefix, "protocol-error", checked.reason);
        }
        out(output);
        run.messages.push({ text: prefix + e.text, fields: e.fields });
      },
      onError: (info) => {
        const where = info.source ? ` at ${info.source.file}:${info.source.line}:${info.source.column}` : "";
        note(prefix, "protocol-error", `${info.callback}: ${info.message}${where}`);
      },
      onHalted: (reason) => {
        run.halted[role] = reason;
        note(prefix, "protocol-halted", reason);
      },
    });
    const instance: Instance = { plays: role, reads: otherSide(role), protocol, closed: false };
    instances.push(instance);
    const us = role === "client" ? conversation.client : conversation.server;
    const them = role === "client" ? conversation.server : conversation.client;
    const transport = new PassiveTransport(endpointAddress(us), endpointAddress(them), {
      wrote: (data) =>
        decoderLine(prefix, `would write ${data.byteLength} bytes: ${preview(data)}`, { bytes: data.byteLength }),
      closed: (how) => {
        decoderLine(prefix, how === "lose" ? "would close the connection" : "would abort the connection (RST)");
        close(instance, how === "lose" ? new ConnectionDone() : new ConnectionAborted());
      },
      halfClosed: () => {
        decoderLine(prefix, "would shut its write side (FIN)");
        instance.protocol.writeConnectionLost();
      },
    });
    protocol.makeConnection(transport);
  }

  let pending = 0;
  let end = conversation.openedAt;
  for (const e of conversation.events) {
    end = Math.max(end, e.t);
    const advanced = group.advanceClock(clock.seconds(e.t));
    if (e.kind === "data") {
      for (const i of instances) if (i.reads === e.from && !i.closed) i.protocol.dataReceived(e.data);
      pending += e.data.byteLength;
    } else if (e.kind === "fin") {
      for (const i of instances) if (i.reads === e.from && !i.closed) i.protocol.readConnectionLost();
    } else if (e.kind === "rst") {
      for (const i of instances) {
        close(i, i.reads === e.from ? new ConnectionLost("Connection reset by peer (RST).") : new ConnectionAborted());
      }
    }
    pending += 1 + BARRIER_BYTES / BARRIER_EVENTS;
    if (pending >= BARRIER_BYTES) {
      pending = 0;
      if (!(await advanced)) return stopped(run, group, now);
      await betweenBlocks(signal);
    }
  }
  void group.advanceClock(clock.seconds(end));
  for (const i of instances) close(i, endReason(conversation));
  if (!(await group.advanceClock(clock.seconds(end)))) return stopped(run, group, now);
  group.onClock = null;
  return run;
}

/**
 * The run's worker died (hung, out of memory): why, also as a halt on the timeline at `now`, the last time the
 * worker reported (what it did after that was lost with it).
 */
function stopped(run: DecodeRun, group: SandboxGroup, now: number): DecodeRun {
  run.stopped = group.stoppedBecause ?? "the sandbox worker stopped";
  run.outputs.push({ t: now, kind: "lifecycle", event: "protocol-halted", detail: run.stopped });
  return run;
}

/**
 * A message the server side decoded, in the decode session's directions: that timeline is recorded as the client
 * saw it (offline.ts's recordConversation), so what the server received is "out" there and what it sent is "in".
 */
function seenFromServer(message: CheckedMessage): CheckedMessage {
  const flip = (spans: Span[]): Span[] => spans.map((s) => ({ ...s, dir: s.dir === "in" ? "out" : "in" }));
  const flipped: CheckedMessage = { ...message, spans: flip(message.spans ?? []) };
  if (message.fieldSpans !== undefined) {
    flipped.fieldSpans = Object.fromEntries(Object.entries(message.fieldSpans).map(([k, v]) => [k, flip(v)]));
  }
  return flipped;
}

/** How the recording ends, as the reason a real transport would give connectionLost. */
function endReason(conversation: Conversation): Error {
  if (conversation.events.some((e) => e.kind === "rst")) return new ConnectionLost("Connection reset (RST).");
  if (conversation.events.some((e) => e.kind === "fin")) return new ConnectionDone();
  return new ConnectionLost("the recording ends before the connection closed.");
}

/**
 * How many of the times a decode sent its worker conversationClock remembers, to turn the worker's reports back into
 * exact times. The worker is at most BARRIER_EVENTS events behind (decodeOnce waits for it then), so its reports
 * are of recent times; an older time is turned back by rounding, which is exact or 1 µs off.
 */
export const CLOCK_MEMORY = 4 * BARRIER_EVENTS;

/**
 * The virtual clock's seconds for conversation times: wall-clock seconds, so `reactor.seconds()` reads the time the
 * bytes were really sent; and back, exactly for the last CLOCK_MEMORY times the decoder sent (no rounding drift),
 * by rounding for others and for times the protocol's calls came due at. Holds at most CLOCK_MEMORY entries.
 */
export function conversationClock(conversation: Pick<Conversation, "epochMs">): {
  seconds(t: number): number;
  micros(seconds: number): number;
  /** How many sent times it remembers now. */
  readonly remembered: number;
} {
  const epochMicros = conversation.epochMs * 1000;
  const sent = new Map<number, number>(); // in the order sent: the first key is the oldest
  return {
    seconds(t) {
      const seconds = (epochMicros + t) / 1e6;
      sent.set(seconds, t);
      if (sent.size > CLOCK_MEMORY) sent.delete(sent.keys().next().value!);
      return seconds;
    },
    micros(seconds) {
      return sent.get(seconds) ?? Math.round(seconds * 1e6 - epochMicros);
    },
    get remembered() {
      return sent.size;
    },
  };
}

/** `"+OK\r\n"` — the first bytes of a write, as a JSON string of their latin1 text. */
function preview(data: Uint8Array): string {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, PREVIEW_BYTES)).toString("latin1");
  return JSON.stringify(text) + (data.byteLength > PREVIEW_BYTES ? "..." : "");
}

/** Makes a sandbox group with a virtual clock and `file` loaded (the engine's compile and load); throws if it can't. */
export type DecodeGroupFactory = () => Promise<SandboxGroup>;

/**
 * `runs` re-split runs of the decode, each over the conversation cut at other points (resplit.ts), compared with
 * `expected` (the run on the recorded chunking). Runs share one worker, each with fresh instances and the clock set
 * back (module-level state of the file is shared, as it is between a live session's connections); a run whose
 * worker was stopped is a mismatch, and the next run gets a new worker. `options.signal` stops the runs (its reason
 * is thrown) between blocks of a run.
 */
export async function resplitRuns(
  newGroup: DecodeGroupFactory,
  file: string,
  conversation: Conversation,
  side: DecodeSide,
  expected: readonly DecodedMessage[],
  options: { runs: number; seed: number; signal?: AbortSignal | undefined },
): Promise<ResplitReport> {
  const mismatches: ResplitReport["mismatches"] = [];
  let group: SandboxGroup | null = null;
  try {
    for (let run = 1; run <= options.runs; run++) {
      group ??= await newGroup();
      const cut = resplitConversation(conversation, runRandom(options.seed, run));
      const result = await decodeOnce(group, file, cut, side, options.signal);
      if (result.stopped !== null) {
        mismatches.push({ run, message: `run ${run}: the decoder was stopped: ${result.stopped}` });
        await group.dispose();
        group = null;
        continue;
      }
      const difference = firstDifference(expected, result.messages);
      if (difference !== null) mismatches.push({ run, message: `run ${run}: ${difference}` });
    }
  } finally {
    await group?.dispose();
  }
  return { runs: options.runs, seed: options.seed, consistent: mismatches.length === 0, mismatches };
}

/**
 * The decode's timeline: the conversation's own events (as recordConversation wrote them into `recorded`) and the
 * decode's outputs, merged by time — at equal times the recorded event first (a log line follows the bytes that
 * caused it), except the connection's end: what the protocol made of the last bytes comes before "lost" — on
 * connection `conn`.
 */
export function mergeTimeline(
  recorded: readonly NewTimelineEvent[],
  outputs: readonly DecodeOutput[],
  conn: number,
): NewTimelineEvent[] {
  const decoded: NewTimelineEvent[] = outputs.map((o) =>
    o.kind === "log"
      ? { kind: "log", t: o.t, conn, level: o.level, text: o.text, fields: o.fields, ...o.message }
      : { kind: "lifecycle", t: o.t, conn, event: o.event, detail: o.detail },
  );
  const merged: NewTimelineEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < recorded.length || j < decoded.length) {
    const a = recorded[i];
    const b = decoded[j];
    const ends = a !== undefined && a.kind === "lifecycle" && a.event === "lost";
    if (b === undefined || (a !== undefined && (a.t < b.t || (a.t === b.t && !ends)))) {
      merged.push(a!);
      i += 1;
    } else {
      merged.push(b);
      j += 1;
    }
  }
  return merged;
}
