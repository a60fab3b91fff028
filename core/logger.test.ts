/**
 * The structured logger (twisted.logger): lazy formatting of `{field}` placeholders, publishers and observers,
 * and the `log` every protocol carries.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import {
  LogPublisher,
  Logger,
  formatEvent,
  formatEventAsLine,
  globalLogPublisher,
  type LogEvent,
  type LogLevel,
} from "./logger.ts";
import { Factory, Protocol } from "./protocol.ts";

/** A logger writing to a fresh publisher, and the events it received. */
function recorded(namespace = "test", source: unknown = null): { log: Logger; events: LogEvent[] } {
  const publisher = new LogPublisher();
  const events: LogEvent[] = [];
  publisher.addObserver((e) => events.push(e));
  return { log: new Logger(namespace, source, publisher), events };
}

/** Events published on the global publisher during the current test. */
function globalEvents(): LogEvent[] {
  const events: LogEvent[] = [];
  onTestFinished(globalLogPublisher.addObserver((e) => events.push(e)));
  return events;
}

/** The text of the first event a logger call produced. */
function render(format: string, fields?: Record<string, unknown>): string {
  const { log, events } = recorded();
  log.info(format, fields);
  return formatEvent(events[0]!);
}

describe("formatEvent", () => {
  it("fills placeholders from the event's fields", () => {
    expect(render("decoded {command} key={key}", { command: "SET", key: "foo" })).toBe("decoded SET key=foo");
  });

  it("renders numbers, booleans, null, Errors, bytes and objects readably", () => {
    expect(render("{n} {b} {z}", { n: 42, b: false, z: null })).toBe("42 false null");
    expect(render("{e}", { e: new RangeError("too big") })).toBe("RangeError: too big");
    expect(render("{data}", { data: Buffer.from("PING\r\n") })).toBe('"PING\\r\\n"');
    expect(render("{o}", { o: { a: 1, b: [2, 3] } })).toBe('{"a":1,"b":[2,3]}');
    function onLine() {}
    expect(render("{f}", { f: onLine })).toBe("<function onLine>");
  });

  it("uses an object's own toString when it has one", () => {
    class Peer {
      toString() {
        return "Peer(127.0.0.1:6379)";
      }
    }
    expect(render("from {peer}", { peer: new Peer() })).toBe("from Peer(127.0.0.1:6379)");
  });

  it("reads nested fields with dotted names", () => {
    expect(render("{peer.host}:{peer.port}", { peer: { host: "127.0.0.1", port: 6379 } })).toBe("127.0.0.1:6379");
    expect(render("{a.b.c}", { a: { b: { c: "deep" } } })).toBe("deep");
  });

  it("treats {{ and }} as literal braces", () => {
    expect(render("{{literal}} {x} {{{x}}}", { x: 1 })).toBe("{literal} 1 {1}");
  });

  it("leaves the placeholder of a missing field as it is, and never throws", () => {
    expect(render("have {here}, miss {gone} and {here.deeper}", { here: "x" })).toBe(
      "have x, miss {gone} and {here.deeper}",
    );
    expect(render("{}")).toBe("{}");
    expect(render("unbalanced { and }")).toBe("unbalanced { and }");
  });

  it("can show the logger's own fields", () => {
    expect(render("[{log_namespace}] {log_level}")).toBe("[test] info");
  });

  it("is empty for an event without a format", () => {
    const { log, events } = recorded();
    log.emit("info", null, { bytes: 5 });
    expect(formatEvent(events[0]!)).toBe("");
    expect(events[0]!.bytes).toBe(5);
  });

  it("formatEventAsLine prefixes namespace and level and appends the failure", () => {
    const { log, events } = recorded("wirescope.redis");
    log.warn("slow reply from {host}", { host: "db" });
    expect(formatEventAsLine(events[0]!)).toBe("[wirescope.redis#warn] slow reply from db");
    log.failure("decode failed", new Error("bad prefix"));
    const line = formatEventAsLine(events[1]!);
    expect(line.startsWith("[wirescope.redis#critical] decode failed\nError: bad prefix")).toBe(true);
  });
});

describe("Logger", () => {
  it("emits events with level, namespace, source, format, time and the caller's fields", () => {
    const source = { name: "me" };
    const { log, events } = recorded("ns", source);
    const before = Date.now() / 1000;
    log.info("hello {who}", { who: "world" });
    const event = events[0]!;
    expect(event).toMatchObject({
      log_level: "info",
      log_namespace: "ns",
      log_source: source,
      log_format: "hello {who}",
      who: "world",
    });
    expect(event.log_time).toBeGreaterThanOrEqual(before - 0.001);
    expect(event.log_time).toBeLessThanOrEqual(Date.now() / 1000 + 0.001);
  });

  it("keeps a field named __proto__ (from parsed JSON) as a field of the event, as its text shows it", () => {
    const { log, events } = recorded();
    const fields = JSON.parse('{"__proto__": {"method": "x"}, "id": 1}') as Record<string, unknown>;
    log.info("{__proto__.method} {id}", fields);
    const event = events[0]!;
    expect(Object.keys(event)).toContain("__proto__");
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(formatEvent(event)).toBe("x 1");
  });

  it("has one method per level", () => {
    const { log, events } = recorded();
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.critical("c");
    expect(events.map((e) => e.log_level)).toEqual<LogLevel[]>(["debug", "info", "warn", "error", "critical"]);
  });

  it("a caller's field cannot overwrite the logger's own keys", () => {
    const { log, events } = recorded("real");
    log.info("x", { log_namespace: "fake", log_level: "debug" });
    expect(events[0]).toMatchObject({ log_namespace: "real", log_level: "info" });
  });

  it("failure() attaches the error as log_failure, critical by default", () => {
    const { log, events } = recorded();
    const error = new TypeError("boom");
    log.failure("while decoding {what}", error, { what: "frame" });
    expect(events[0]).toMatchObject({ log_level: "critical", log_failure: error, what: "frame" });
    expect(formatEvent(events[0]!)).toBe("while decoding frame");

    log.failure("quiet", "not an Error", undefined, "warn");
    expect(events[1]!.log_level).toBe("warn");
    expect(events[1]!.log_failure).toBeInstanceOf(Error);
    expect(events[1]!.log_failure!.message).toBe("not an Error");
  });

  it("writes to the global publisher by default", () => {
    const events = globalEvents();
    new Logger("global.test").info("to everyone");
    expect(events.filter((e) => e.log_namespace === "global.test").map(formatEvent)).toEqual(["to everyone"]);
  });
});

describe("LogPublisher", () => {
  it("delivers every event to every observer, in order", () => {
    const publisher = new LogPublisher();
    const a: string[] = [];
    const b: string[] = [];
    publisher.addObserver((e) => a.push(formatEvent(e)));
    publisher.addObserver((e) => b.push(formatEvent(e)));
    const log = new Logger("t", null, publisher);
    log.info("one");
    log.info("two");
    expect(a).toEqual(["one", "two"]);
    expect(b).toEqual(["one", "two"]);
  });

  it("addObserver returns a function that removes the observer", () => {
    const publisher = new LogPublisher();
    const seen: string[] = [];
    const remove = publisher.addObserver((e) => seen.push(formatEvent(e)));
    const log = new Logger("t", null, publisher);
    log.info("before");
    remove();
    log.info("after");
    expect(seen).toEqual(["before"]);
    remove(); // removing twice is harmless
  });

  it("removeObserver removes it too", () => {
    const publisher = new LogPublisher();
    const seen: LogEvent[] = [];
    const observer = (e: LogEvent) => seen.push(e);
    publisher.addObserver(observer);
    publisher.removeObserver(observer);
    new Logger("t", null, publisher).info("x");
    expect(seen).toEqual([]);
  });

  it("removes an observer that throws and reports its error to the others", () => {
    const publisher = new LogPublisher();
    const error = new Error("observer broke");
    let brokenCalls = 0;
    publisher.addObserver(() => {
      brokenCalls += 1;
      throw error;
    });
    const seen: LogEvent[] = [];
    publisher.addObserver((e) => seen.push(e));
    const log = new Logger("t", null, publisher);

    log.info("first");
    expect(brokenCalls).toBe(1);
    expect(seen.map((e) => e.log_level)).toEqual(["info", "critical"]);
    const report = seen[1]!;
    expect(report.log_failure).toBe(error);
    expect(report.log_namespace).toBe("log");
    // Named like Twisted's repr, not by the function's source.
    expect(formatEvent(report)).toBe("Temporarily disabling observer <function (anonymous)> due to exception");

    log.info("second");
    expect(brokenCalls).toBe(1);
    expect(seen.map(formatEvent).at(-1)).toBe("second");
  });
});

describe("a protocol's log", () => {
  it("carries log_source = the protocol and namespace = its class name", () => {
    const events = globalEvents();
    class RedisClient extends Protocol {}
    const p = new RedisClient();
    p.log.info("connected to {host}", { host: "db" });
    const mine = events.filter((e) => e.log_source === p);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ log_namespace: "RedisClient", log_level: "info" });
    expect(formatEvent(mine[0]!)).toBe("connected to db");
    expect(p.log).toBe(p.log);
  });

  it("each protocol instance has its own source", () => {
    const events = globalEvents();
    class Echo extends Protocol {}
    const a = new Echo();
    const b = new Echo();
    a.log.info("a");
    b.log.info("b");
    expect(events.filter((e) => e.log_namespace === "Echo").map((e) => e.log_source)).toEqual([a, b]);
  });

  it("failure() on a protocol's log attaches log_failure", () => {
    const events = globalEvents();
    class Framer extends Protocol {}
    const p = new Framer();
    const error = new Error("bad frame");
    p.log.failure("dropping connection", error);
    const mine = events.filter((e) => e.log_source === p);
    expect(mine[0]).toMatchObject({ log_failure: error, log_level: "critical", log_namespace: "Framer" });
  });

  it("factories have one too", () => {
    const events = globalEvents();
    class MyFactory extends Factory {}
    const f = new MyFactory();
    f.log.info("hi");
    expect(events.filter((e) => e.log_source === f)[0]).toMatchObject({ log_namespace: "MyFactory" });
  });
});
