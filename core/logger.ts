/**
 * A Twisted-style structured logger (src/twisted/logger): events are plain objects with a format string and fields,
 * published to observers. Formatting is lazy: an event is only rendered to text by an observer that wants text.
 *
 *     const log = new Logger("redis");
 *     log.info("decoded {command} key={key}", { command: "SET", key: "foo" });
 *
 * Protocols get a `log` bound to themselves (`log_source` is the protocol), which is how Wirescope puts what a
 * protocol reports on the timeline of its connection.
 */

/** Severity, lowest first (twisted.logger.LogLevel). */
export const LogLevel = ["debug", "info", "warn", "error", "critical"] as const;
/** One of LogLevel's names. */
export type LogLevel = (typeof LogLevel)[number];

/** One log event. Keys starting with `log_` are the logger's own; the rest are the caller's fields. */
export interface LogEvent {
  log_level: LogLevel;
  log_namespace: string;
  /** What emitted it: for a protocol's `log`, the protocol instance. */
  log_source: unknown;
  /** A format string with `{field}` placeholders, or null for an event with fields only. */
  log_format: string | null;
  /** Wall-clock time in seconds (Date.now() / 1000), as Twisted's `log_time`. */
  log_time: number;
  /** An error attached with `failure()`. */
  log_failure?: Error;
  [field: string]: unknown;
}

/**
 * A run of bytes of one connection's stream in one direction (the app's timeline spans): `offset` counts the bytes
 * that went that way on that connection before it, from 0. `fd` tells a child's stdout (1) from its stderr (2).
 */
export interface Span {
  dir: "in" | "out";
  offset: number;
  length: number;
  fd?: number;
}

/** What `Logger.message` reports beyond the format and fields. Every part is optional. */
export interface MessageOptions {
  /**
   * The bytes the message was decoded from. Default: the span of the message a framer is delivering now (its
   * source's `messageSpan`, set during `lineReceived`, `stringReceived`...), or none when there is no such span.
   */
  spans?: Span[];
  /**
   * Narrower spans of single fields, by dotted path into `fields` ("key", "args.1"): a Span, or `[start, length]`
   * counted from the start of the message's first span (the framer's message when `spans` is not given).
   */
  fieldSpans?: Record<string, Span | [start: number, length: number]>;
  /** This message is a request a later message answers: `true` pairs in order, a string or number pairs by id. */
  request?: true | string | number;
  /** This message answers an earlier request: `true` the oldest unanswered one, a string or number by id. */
  response?: true | string | number;
  /** The level of the event; "info" by default. */
  level?: LogLevel;
}

/** What a decoded message's event carries as `log_message` (resolved when emitted: spans are absolute). */
export interface LoggedMessage {
  spans: Span[];
  fieldSpans?: Record<string, Span[]>;
  pair?: { role: "request" | "response"; key?: string };
}

/** What `Logger.message` asks of a logger's source: the span of the message being delivered now, or null. */
export interface MessageSpanSource {
  readonly messageSpan: Span | null;
}

/** Receives every published event. Must not throw; a throwing observer is removed and reported. */
export type LogObserver = (event: LogEvent) => void;

/**
 * Renders `{name}` placeholders of an event's format from its fields; `{{` and `}}` are literal braces.
 * Dotted names read nested fields (`{peer.host}`). A missing field renders as `{name}` unchanged, so a bad
 * format never throws. Returns "" for an event without a format.
 */
export function formatEvent(event: LogEvent): string {
  const format = event.log_format;
  if (format === null) return "";
  let text = "";
  for (const piece of piecesOf(format)) {
    if (typeof piece === "string") {
      text += piece;
    } else {
      const value = lookup(event, piece.path);
      text += value === undefined ? piece.whole : stringify(value);
    }
  }
  return text;
}

/** A placeholder of a format: its dotted path, split, and its text as written (shown when the field is missing). */
interface Placeholder {
  path: readonly string[];
  whole: string;
}

/** Formats already cut into literal text and placeholders: a protocol logs the same few formats again and again. */
const pieces = new Map<string, readonly (string | Placeholder)[]>();
/** Formats kept at most (a program building formats from data would otherwise grow the map without bound). */
const MAX_KEPT_FORMATS = 1000;
/** Longer formats are cut each time rather than kept. */
const MAX_KEPT_FORMAT_LENGTH = 256;

/** `format` cut into literal text (braces `{{` `}}` already unescaped) and placeholders, in order. */
function piecesOf(format: string): readonly (string | Placeholder)[] {
  const kept = pieces.get(format);
  if (kept !== undefined) return kept;
  const cut: (string | Placeholder)[] = [];
  let at = 0;
  for (const match of format.matchAll(/\{\{|\}\}|\{([^{}]*)\}/g)) {
    if (match.index > at) cut.push(format.slice(at, match.index));
    const whole = match[0];
    if (whole === "{{") cut.push("{");
    else if (whole === "}}") cut.push("}");
    else cut.push({ path: (match[1] ?? "").split("."), whole });
    at = match.index + whole.length;
  }
  if (at < format.length) cut.push(format.slice(at));
  // Long formats are not kept: one built from data (a logged line of 100 KB) would hold its text in the map.
  if (format.length > MAX_KEPT_FORMAT_LENGTH) return cut;
  if (pieces.size >= MAX_KEPT_FORMATS) pieces.clear();
  pieces.set(format, cut);
  return cut;
}

function lookup(event: LogEvent, path: readonly string[]): unknown {
  let value: unknown = event;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "function") return describeFunction(value);
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString("latin1"));
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === "object" && value !== null && value.toString !== Object.prototype.toString) {
    return String(value);
  }
  if (typeof value === "object") {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** A function as Twisted's repr shows it, `<function name>`: String(fn) would be its whole source. */
function describeFunction(fn: { name: string }): string {
  return `<function ${fn.name || "(anonymous)"}>`;
}

/** Renders an event as one line: "[namespace#level] text", with the failure's message appended. */
export function formatEventAsLine(event: LogEvent): string {
  let text = formatEvent(event);
  if (event.log_failure) text += `${text ? "\n" : ""}${event.log_failure.stack ?? String(event.log_failure)}`;
  return `[${event.log_namespace}#${event.log_level}] ${text}`;
}

/** Fans events out to observers (twisted.logger.LogPublisher). */
export class LogPublisher {
  private readonly observers = new Set<LogObserver>();

  /** Adds an observer; returns a function that removes it. */
  addObserver(observer: LogObserver): () => void {
    this.observers.add(observer);
    return () => this.removeObserver(observer);
  }

  removeObserver(observer: LogObserver): void {
    this.observers.delete(observer);
  }

  /** Delivers `event` to every observer. An observer that throws is removed and the error logged to the rest. */
  publish(event: LogEvent): void {
    const broken: [LogObserver, unknown][] = [];
    for (const observer of this.observers) {
      try {
        observer(event);
      } catch (err) {
        broken.push([observer, err]);
      }
    }
    for (const [observer, err] of broken) {
      this.observers.delete(observer);
      this.publish(
        makeEvent("critical", "log", this, "Temporarily disabling observer {observer} due to exception", {
          observer: describeFunction(observer),
          log_failure: err instanceof Error ? err : new Error(String(err)),
        }),
      );
    }
  }
}

/** The process-wide publisher every Logger writes to unless given its own (twisted.logger.globalLogPublisher). */
export const globalLogPublisher = new LogPublisher();

/**
 * An event: the caller's `fields`, then `own` (the logger's `log_message`, `log_failure`), then the logger's keys,
 * in that order, later ones winning (as `{ ...fields, ...own, log_level, ... }` would). Built by assignment: V8
 * builds an object spread followed by more keys on a slow path, some microseconds per event, which a protocol
 * logging every message it decodes pays for each one.
 */
/** Sets an own field, as a spread would: a "__proto__" field (from parsed JSON) stays a field, not a prototype. */
function setField(event: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(event, key, { value, enumerable: true, writable: true, configurable: true });
  else event[key] = value;
}

function makeEvent(
  level: LogLevel,
  namespace: string,
  source: unknown,
  format: string | null,
  fields: Record<string, unknown> | undefined,
  own?: Record<string, unknown>,
): LogEvent {
  const event: Record<string, unknown> = {};
  if (fields !== undefined) for (const key of Object.keys(fields)) setField(event, key, fields[key]);
  if (own !== undefined) for (const key of Object.keys(own)) setField(event, key, own[key]);
  event["log_level"] = level;
  event["log_namespace"] = namespace;
  event["log_source"] = source;
  event["log_format"] = format;
  event["log_time"] = Date.now() / 1000;
  return event as LogEvent;
}

/**
 * Emits structured events (twisted.logger.Logger). Cheap to create; holds no state but its namespace, source and
 * publisher.
 */
export class Logger {
  constructor(
    /** Dotted name of what logs, e.g. "wirescope.redis". */
    readonly namespace = "wirescope",
    /** The object on whose behalf events are emitted (a protocol instance), or null. */
    readonly source: unknown = null,
    /** Where events go; the global publisher by default. */
    readonly publisher: { publish(event: LogEvent): void } = globalLogPublisher,
  ) {}

  /** Emits an event at `level`. `fields` fill the format's placeholders and travel with the event. */
  emit(level: LogLevel, format: string | null, fields?: Record<string, unknown>): void {
    this.publisher.publish(makeEvent(level, this.namespace, this.source, format, fields));
  }

  /** `emit` with the logger's own `log_` keys beside the caller's fields. */
  private emitWith(level: LogLevel, format: string, fields: Record<string, unknown> | undefined, own: object): void {
    this.publisher.publish(
      makeEvent(level, this.namespace, this.source, format, fields, own as Record<string, unknown>),
    );
  }

  debug(format: string, fields?: Record<string, unknown>): void {
    this.emit("debug", format, fields);
  }
  info(format: string, fields?: Record<string, unknown>): void {
    this.emit("info", format, fields);
  }
  warn(format: string, fields?: Record<string, unknown>): void {
    this.emit("warn", format, fields);
  }
  error(format: string, fields?: Record<string, unknown>): void {
    this.emit("error", format, fields);
  }
  critical(format: string, fields?: Record<string, unknown>): void {
    this.emit("critical", format, fields);
  }

  /**
   * Reports a decoded message: an event (at "info" unless `options.level` says otherwise) whose fields are the
   * message's, carrying `log_message` with the bytes it was decoded from. Called from a framer's callback
   * (`lineReceived`, `stringReceived`...), the span of the current message is attached without the caller writing
   * offsets; `options` can give spans, spans of single fields, and request/response pairing.
   *
   *     this.log.message("{command} {key}", { command: "SET", key }, { request: true });
   */
  message(format: string, fields?: Record<string, unknown>, options: MessageOptions = {}): void {
    this.emitWith(options.level ?? "info", format, fields, { log_message: resolveMessage(this.source, options) });
  }

  /** Emits a critical event carrying `error` as `log_failure` (twisted's `log.failure`). */
  failure(format: string, error: unknown, fields?: Record<string, unknown>, level: LogLevel = "critical"): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    this.emitWith(level, format, fields, { log_failure: failure });
  }
}

/** The `log_message` of a message reported by `source` with `options`, its spans made absolute now. */
function resolveMessage(source: unknown, options: MessageOptions): LoggedMessage {
  const current =
    source !== null && typeof source === "object" && "messageSpan" in source
      ? (source as MessageSpanSource).messageSpan
      : null;
  const spans = options.spans ?? (current ? [current] : []);
  const message: LoggedMessage = { spans: spans.map((s) => ({ ...s })) };
  if (options.fieldSpans !== undefined) {
    const base = spans[0];
    const fieldSpans: Record<string, Span[]> = {};
    for (const [path, given] of Object.entries(options.fieldSpans)) {
      if (!Array.isArray(given)) fieldSpans[path] = [{ ...given }];
      else if (base) fieldSpans[path] = [{ ...base, offset: base.offset + given[0], length: given[1] }];
    }
    message.fieldSpans = fieldSpans;
  }
  if (options.request !== undefined) message.pair = pairOf("request", options.request);
  else if (options.response !== undefined) message.pair = pairOf("response", options.response);
  return message;
}

function pairOf(role: "request" | "response", key: true | string | number): LoggedMessage["pair"] {
  return key === true ? { role } : { role, key: String(key) };
}
