/**
 * The timeline as the CLI prints it: one line per event for people, or one JSON object per line for scripts
 * (`--json`). Whatever the mode, stdout carries only this: the events, the lines a command announces (the bound
 * address, the conversations of a capture) and, in JSON, a final summary object; notes for people go to stderr.
 *
 * Human lines: `12.345678 #1 -> 14 B  *1\r\n$4\r\nPING\r\n` — seconds since the session's first event, the
 * connection (`--` for the session itself), `->` sent / `<-` received with the size (a process's fd after it:
 * `<- 12 B [fd 2]`) and an escaped preview, or the lifecycle event and its detail, or the log level and the
 * decoded message; a paired response ends with what it answers and how long that took: `(answers seq 4 in
 * 1.250 ms)`. `--hex` adds a hex dump under each chunk.
 *
 * JSON lines: `{"kind":"data","seq":3,"t":0.001234,"time":"2024-...Z","conn":1,"dir":"out","size":14,"base64":"..."}`
 * (with `--hex`, `"hex"` instead of `"base64"`), `{"kind":"lifecycle",...,"event":"connected","detail":"..."}`,
 * (`"fields"` too where the event has them: a `tls` event's handshake details, a `tls-failed` one's failure),
 * `{"kind":"log",...,"level":"info","text":"...","fields":{...}}`, a decoded message's with
 * `"spans":[{"dir":"in","offset":N,"length":M}]` and, when it has them, `"fieldSpans"` and `"pair"`
 * (`{"role":"response","request":4,"latency":1250}`, latency in µs); announcements and the summary have kinds of
 * their own ("listening", "conversations", "summary").
 */
import type { TimelineEvent } from "../../preload/timeline.ts";
import { escapedPreview, hexDump } from "./bytes-text.ts";
import { lifecycleDetail } from "./tls-text.ts";

/** Where printed lines go: the process's stdout, or a test's buffer. */
export interface LineSink {
  write(text: string): unknown;
}

/** How to print. */
export interface PrinterOptions {
  json: boolean;
  /** Hex dumps (human) or hex instead of base64 (JSON). */
  hex: boolean;
}

/** Seconds with microseconds: "12.345678". */
function seconds(us: number): string {
  const whole = Math.max(0, Math.round(us));
  return `${Math.floor(whole / 1_000_000)}.${String(whole % 1_000_000).padStart(6, "0")}`;
}

/** " in 1.250 ms" for a latency in µs: µs below a millisecond, ms below a second, else seconds. */
function took(latency: number | undefined): string {
  if (latency === undefined) return "";
  if (latency < 1_000) return ` in ${latency} µs`;
  if (latency < 1_000_000) return ` in ${(latency / 1_000).toFixed(3)} ms`;
  return ` in ${(latency / 1_000_000).toFixed(3)} s`;
}

/**
 * Prints the events of one session, in order, relative to the first one it is given. Owned by the command that
 * follows the session; stateless beyond the time origin.
 */
export class TimelinePrinter {
  private firstT: number | null = null;

  constructor(
    private readonly out: LineSink,
    private readonly options: PrinterOptions,
    /** Wall-clock ms at timeline time 0 (SessionInfo.epochMs), for JSON's "time". */
    private readonly epochMs: number,
  ) {}

  /**
   * Prints `events`, in order, in one write: a follower hands over each batch it reads, and a busy session's
   * thousands of lines cost one write to stdout, not one each.
   */
  print(events: readonly TimelineEvent[]): void {
    const lines: string[] = [];
    for (const e of events) this.linesOf(e, lines);
    if (lines.length > 0) this.out.write(lines.join(""));
  }

  /** Appends the line(s) of one event, each ending in "\n", to `lines`. */
  private linesOf(e: TimelineEvent, lines: string[]): void {
    this.firstT ??= e.t;
    const rel = e.t - this.firstT;
    if (this.options.json) {
      lines.push(JSON.stringify(this.jsonOf(e, rel)) + "\n");
      return;
    }
    const where = e.conn === 0 ? "--" : `#${e.conn}`;
    const head = `${seconds(rel)} ${where}`;
    switch (e.kind) {
      case "data": {
        const arrow = e.dir === "out" ? "->" : "<-";
        const fd = e.fd === undefined ? "" : ` [fd ${e.fd}]`;
        lines.push(`${head} ${arrow} ${e.data.byteLength} B${fd}  ${escapedPreview(e.data)}\n`);
        if (this.options.hex) for (const line of hexDump(e.data)) lines.push(`    ${line}\n`);
        break;
      }
      case "lifecycle": {
        const detail = lifecycleDetail(e);
        lines.push(`${head} ${e.event}${detail ? ` ${detail}` : ""}\n`);
        break;
      }
      case "log": {
        const answers = e.pair?.request === undefined ? "" : `  (answers seq ${e.pair.request}${took(e.pair.latency)})`;
        lines.push(`${head} ${e.level}: ${e.text}${answers}\n`);
        break;
      }
    }
  }

  private jsonOf(e: TimelineEvent, rel: number): Record<string, unknown> {
    const base = {
      kind: e.kind,
      seq: e.seq,
      t: Number(seconds(rel)),
      time: new Date(this.epochMs + e.t / 1000).toISOString(),
      conn: e.conn,
    };
    switch (e.kind) {
      case "data": {
        const bytes = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        const encoded = this.options.hex ? { hex: bytes.toString("hex") } : { base64: bytes.toString("base64") };
        const fd = e.fd === undefined ? {} : { fd: e.fd };
        return { ...base, dir: e.dir, ...fd, size: e.data.byteLength, ...encoded };
      }
      case "lifecycle":
        return { ...base, event: e.event, detail: e.detail, ...(e.fields !== undefined ? { fields: e.fields } : {}) };
      case "log": {
        const message = {
          ...(e.spans !== undefined ? { spans: e.spans } : {}),
          ...(e.fieldSpans !== undefined ? { fieldSpans: e.fieldSpans } : {}),
          ...(e.pair !== undefined ? { pair: e.pair } : {}),
        };
        return { ...base, level: e.level, text: e.text, fields: e.fields, ...message };
      }
    }
  }
}

/**
 * Prints what is not a timeline event: `human` as it is (one or more lines), or `record` as one JSON line with its
 * `kind`. Both go to stdout: they are the command's output (the bound address, the conversations, the summary).
 */
export function announce(out: LineSink, json: boolean, human: string | null, record: Record<string, unknown>): void {
  if (json) out.write(JSON.stringify(record) + "\n");
  else if (human !== null) out.write(human.endsWith("\n") ? human : `${human}\n`);
}
