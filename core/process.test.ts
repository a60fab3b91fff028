/**
 * Child processes, for real (ports of twisted/test/test_process.py): every test spawns actual programs
 * (/bin/sh, cat, head, python3) and checks what a ProcessProtocol sees. Children still alive after a test are
 * killed in afterEach; every wait has its own deadline.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { ProcessAddress } from "./address.ts";
import { ProcessDone, ProcessExitedAlready, ProcessTerminated } from "./errors.ts";
import type { Bytes, IPullProducer, IPushProducer } from "./interfaces.ts";
import { globalLogPublisher, type LogEvent } from "./logger.ts";
import {
  ProcessProtocol,
  ProcessSpawnFailed,
  SpawnError,
  spawnProcess,
  type IProcessProtocol,
  type IProcessTransport,
  type ProcessExitReason,
  type ProcessTransport,
  type SpawnProcessOptions,
} from "./process.ts";

const SH = "/bin/sh";
const PYTHON = "/usr/bin/python3";
const WAIT_MS = 10_000;

/** Records every callback, in order, with the data; `ended` resolves on processEnded. */
class RecordingProtocol extends ProcessProtocol {
  events: string[] = [];
  chunks = new Map<number, Buffer[]>();
  exitedReason: ProcessExitReason | null = null;
  endedReason: ProcessExitReason | null = null;
  readonly ended: Promise<ProcessExitReason>;
  #resolveEnded!: (reason: ProcessExitReason) => void;

  constructor() {
    super();
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  override connectionMade(): void {
    this.events.push("connectionMade");
  }

  override childDataReceived(childFD: number, data: Bytes): void {
    const list = this.chunks.get(childFD) ?? [];
    list.push(Buffer.from(data));
    this.chunks.set(childFD, list);
    super.childDataReceived(childFD, data);
  }

  override outReceived(): void {
    if (this.events.at(-1) !== "out") this.events.push("out");
  }

  override errReceived(): void {
    if (this.events.at(-1) !== "err") this.events.push("err");
  }

  override childConnectionLost(childFD: number): void {
    this.events.push(`lost${childFD}`);
    super.childConnectionLost(childFD);
  }

  override inConnectionLost(): void {
    this.events.push("inConnectionLost");
  }

  override outConnectionLost(): void {
    this.events.push("outConnectionLost");
  }

  override errConnectionLost(): void {
    this.events.push("errConnectionLost");
  }

  override processExited(reason: ProcessExitReason): void {
    this.events.push("processExited");
    this.exitedReason = reason;
  }

  override processEnded(reason: ProcessExitReason): void {
    this.events.push("processEnded");
    this.endedReason = reason;
    this.#resolveEnded(reason);
  }

  /** All bytes read from child fd `childFD`. */
  data(childFD: number): Buffer {
    return Buffer.concat(this.chunks.get(childFD) ?? []);
  }

  out(): string {
    return this.data(1).toString();
  }

  err(): string {
    return this.data(2).toString();
  }
}

const spawned: ProcessTransport[] = [];

/** spawnProcess, remembering the transport so afterEach can kill the child. */
function run(
  protocol: IProcessProtocol,
  executable: string,
  args: readonly string[],
  options?: SpawnProcessOptions,
): ProcessTransport {
  const transport = spawnProcess(protocol, executable, args, options);
  spawned.push(transport);
  return transport;
}

/** Runs `sh -c script` with `protocol`. */
function sh(protocol: IProcessProtocol, script: string, options?: SpawnProcessOptions): ProcessTransport {
  return run(protocol, SH, [SH, "-c", script], options);
}

/** Runs python3 -c `code` with `protocol`. */
function python(protocol: IProcessProtocol, code: string, options?: SpawnProcessOptions): ProcessTransport {
  return run(protocol, PYTHON, [PYTHON, "-c", code], options);
}

/** Resolves with `promise`, or rejects after `ms` so a stuck child fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every few milliseconds until it holds; fails after WAIT_MS. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits `ms` milliseconds: for asserting that nothing happens meanwhile. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let scratch: string;

beforeAll(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), "wirescope-process-")));
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => {
  for (const transport of spawned.splice(0)) {
    if (transport.pid === null) continue;
    try {
      transport.signalProcess("KILL");
    } catch (err) {
      if (!(err instanceof ProcessExitedAlready)) throw err;
    }
  }
});

describe("exit status", () => {
  it("reports ProcessDone for exit code 0, then clears pid and sets status (test_normalTermination, test_unsetPid)", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "/bin/true", ["true"]);
    expect(t.pid).toBeTypeOf("number");
    const reason = await within(p.ended, "processEnded");
    expect(reason).toBeInstanceOf(ProcessDone);
    expect(reason.exitCode).toBe(0);
    expect(p.exitedReason).toBeInstanceOf(ProcessDone);
    expect(t.pid).toBeNull();
    expect(t.status).toBe(0);
    expect(t.exitSignal).toBeNull();
  });

  it("reports ProcessTerminated with the exit code (test_abnormalTermination)", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "exit 3");
    const reason = await within(p.ended, "processEnded");
    expect(reason).toBeInstanceOf(ProcessTerminated);
    expect(reason.exitCode).toBe(3);
    expect(reason.signal).toBeNull();
    expect(reason.message).toContain("exit code 3");
    expect(t.status).toBe(3);
  });

  it("runs many processes at once, each ending on its own (test_manyProcesses)", async () => {
    const protocols = Array.from({ length: 12 }, () => new RecordingProtocol());
    protocols.forEach((p, i) => sh(p, `echo child ${i}; exit ${i % 3}`));
    const reasons = await within(Promise.all(protocols.map((p) => p.ended)), "all processEnded");
    reasons.forEach((reason, i) => {
      expect(reason.exitCode).toBe(i % 3);
      expect(protocols[i]!.out()).toBe(`child ${i}\n`);
    });
  });
});

describe("signalProcess", () => {
  // Ported from test_signalHUP/INT/KILL/TERM: the child restores default handling (process_signal.py) and says
  // when it is ready, so the signal cannot arrive before the handler is reset.
  for (const name of ["HUP", "INT", "KILL", "TERM"] as const) {
    it(`ends the child with SIG${name}`, async () => {
      const p = new RecordingProtocol();
      const t = python(
        p,
        "import signal, sys, time\n" +
          `signal.signal(signal.SIG${name === "KILL" ? "TERM" : name}, signal.SIG_DFL)\n` +
          "sys.stdout.write('ready\\n'); sys.stdout.flush()\n" +
          "time.sleep(30)\n",
      );
      await until(() => p.out() === "ready\n", "the child to be ready");
      t.signalProcess(name);
      const reason = await within(p.ended, "processEnded");
      expect(reason).toBeInstanceOf(ProcessTerminated);
      expect(reason.signal).toBe(`SIG${name}`);
      expect(reason.exitCode).toBeNull();
      expect(t.exitSignal).toBe(`SIG${name}`);
      expect(t.status).toBeNull();
    });
  }

  it("accepts Node's names and numbers too", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "echo ready; exec sleep 30");
    await until(() => p.out() === "ready\n", "the child to be ready");
    t.signalProcess(0); // signal 0 only checks that the process exists
    t.signalProcess("SIGTERM");
    expect((await within(p.ended, "processEnded")).signal).toBe("SIGTERM");
  });

  it("throws ProcessExitedAlready after the child exited (test_signalProcessAfterExit)", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "exit 0");
    await within(p.ended, "processEnded");
    expect(() => t.signalProcess("KILL")).toThrow(ProcessExitedAlready);
    expect(() => t.signalProcess("TERM")).toThrow(ProcessExitedAlready);
  });
});

describe("pipes", () => {
  it("echoes stdin through cat: write, closeStdin, data back, then ProcessDone (test_echo)", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    const sent = Buffer.from("hello, world\n".repeat(1000));
    t.write(sent.subarray(0, 5000));
    t.writeSequence([sent.subarray(5000, 9000), sent.subarray(9000)]);
    t.closeStdin();
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(p.data(1).equals(sent)).toBe(true);
  });

  it("delivers stderr to errReceived (test_stderr)", async () => {
    const p = new RecordingProtocol();
    sh(p, "echo to-out; echo to-err >&2");
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("to-out\n");
    expect(p.err()).toBe("to-err\n");
    expect(p.events).toContain("out");
    expect(p.events).toContain("err");
  });

  it("loses each of fds 0, 1 and 2 exactly once, exits, and ends last (test_stdio)", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "read line; echo got $line; echo done >&2");
    t.write(Buffer.from("x\n"));
    await within(p.ended, "processEnded");
    expect(p.events[0]).toBe("connectionMade");
    expect(p.events.at(-1)).toBe("processEnded");
    for (const fd of [0, 1, 2]) expect(p.events.filter((e) => e === `lost${fd}`)).toHaveLength(1);
    expect(p.events.filter((e) => e === "processExited")).toHaveLength(1);
    expect(p.events.filter((e) => e === "processEnded")).toHaveLength(1);
    // The fd-specific hooks come right after their childConnectionLost.
    expect(p.events[p.events.indexOf("lost0") + 1]).toBe("inConnectionLost");
    expect(p.events[p.events.indexOf("lost1") + 1]).toBe("outConnectionLost");
    expect(p.events[p.events.indexOf("lost2") + 1]).toBe("errConnectionLost");
    // No output after its pipe was lost.
    expect(p.events.lastIndexOf("out")).toBeLessThan(p.events.indexOf("lost1"));
    expect(p.out()).toBe("got x\n");
    expect(p.err()).toBe("done\n");
  });

  it("waits for a grandchild holding stdout before processEnded, but reports the exit at once (test_linger)", async () => {
    const p = new RecordingProtocol();
    // The shell exits at once; its background child keeps stdout open for a moment, then writes and leaves.
    sh(p, "(sleep 0.3; echo late) & exit 0");
    await until(() => p.exitedReason !== null, "processExited");
    expect(p.endedReason).toBeNull();
    expect(p.events).not.toContain("lost1");
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(p.out()).toBe("late\n");
    expect(p.events.indexOf("processExited")).toBeLessThan(p.events.indexOf("lost1"));
  });

  it("delivers 5 MB of output, every byte, before processEnded", async () => {
    const size = 5 * 1024 * 1024;
    const p = new RecordingProtocol();
    run(p, "head", ["head", "-c", String(size), "/dev/zero"], { env: null });
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    const out = p.data(1);
    expect(out.length).toBe(size);
    expect(out.every((byte) => byte === 0)).toBe(true);
  });

  it("pushes 2 MB through cat both ways (test_process with a large write)", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    const sent = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7919) % 251;
    t.write(sent);
    t.closeStdin();
    await within(p.ended, "processEnded");
    expect(p.data(1).equals(sent)).toBe(true);
  });

  it("rejects text written to stdin with a TypeError, writing nothing", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    expect(() => t.write("text" as unknown as Bytes)).toThrow(TypeError);
    expect(() => t.writeSequence([Buffer.from("a"), "b" as unknown as Bytes])).toThrow(TypeError);
    expect(() => t.writeToChild(0, "text" as unknown as Bytes)).toThrow(TypeError);
    t.closeStdin();
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("");
  });

  it("drops writes after closeStdin silently, as Twisted does", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    t.write(Buffer.from("kept"));
    t.closeStdin();
    t.write(Buffer.from("dropped"));
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("kept");
  });

  it("closeStdout: the child fails on its next write and ends", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "yes", ["yes"], { env: null });
    await until(() => p.data(1).length > 0, "some output");
    t.closeStdout();
    const reason = await within(p.ended, "processEnded");
    // Node's stdout pipe is a socketpair: `yes` gets ECONNRESET and exits 1, where os.pipe() would raise SIGPIPE.
    expect(reason).toBeInstanceOf(ProcessTerminated);
    expect(reason.signal === "SIGPIPE" || (reason.exitCode ?? 0) > 0).toBe(true);
    expect(p.events.filter((e) => e === "lost1")).toHaveLength(1);
  });

  it("loseConnection closes stdin, stdout and stderr; cat then exits cleanly", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    t.loseConnection();
    expect(t.disconnecting).toBe(true);
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    for (const fd of [0, 1, 2]) expect(p.events).toContain(`lost${fd}`);
  });

  it("abortConnection closes every pipe at once", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "echo ready; exec sleep 30");
    await until(() => p.out() === "ready\n", "the child to be ready");
    t.abortConnection();
    await until(() => ["lost0", "lost1", "lost2"].every((e) => p.events.includes(e)), "all pipes lost");
    expect(p.endedReason).toBeNull(); // the child still runs
    t.signalProcess("KILL");
    expect((await within(p.ended, "processEnded")).signal).toBe("SIGKILL");
  });

  it("gives the child extra fds with childFDs (FDTest, process_fds.py)", async () => {
    const p = new RecordingProtocol();
    const t = python(
      p,
      "import os, sys\n" +
        "data = b''\n" +
        "while True:\n" +
        "    chunk = os.read(3, 1024)\n" +
        "    if not chunk: break\n" +
        "    data += chunk\n" +
        "os.write(4, b'fd4 got ' + data)\n" +
        "os.close(4)\n" +
        "sys.stdout.write('out'); sys.stderr.write('err')\n",
      { childFDs: { 0: "w", 1: "r", 2: "r", 3: "w", 4: "r" } },
    );
    t.writeToChild(3, Buffer.from("righto"));
    t.closeChildFD(3);
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(p.data(4).toString()).toBe("fd4 got righto");
    expect(p.out()).toBe("out");
    expect(p.err()).toBe("err");
    for (const fd of [0, 1, 2, 3, 4]) expect(p.events.filter((e) => e === `lost${fd}`)).toHaveLength(1);
    expect(() => t.writeToChild(4, Buffer.from("x"))).toThrow(RangeError);
  });

  it("opens fds 0-2 left out of childFDs on /dev/null and passes none of ours (test_openFileDescriptors)", async () => {
    const p = new RecordingProtocol();
    python(
      p,
      "import json, os\n" +
        "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n" +
        "os.write(4, json.dumps({'fds': fds, 'stdin': os.readlink('/proc/self/fd/0')}).encode())\n",
      { childFDs: { 4: "r" } },
    );
    await within(p.ended, "processEnded");
    const { fds, stdin } = JSON.parse(p.data(4).toString()) as { fds: number[]; stdin: string };
    // Unlike Twisted's child, Node's does not close every fd: whatever the test runner itself inherited without
    // close-on-exec passes through. None of the parent's own pipes and sockets may.
    const inherited = fdsWithoutCloseOnExec().filter((fd) => fd > 4);
    // 0-2 on /dev/null, 3 the directory listdir opened, 4 our pipe.
    expect(fds).toEqual([0, 1, 2, 3, 4, ...inherited]);
    expect(stdin).toBe("/dev/null");
    expect(p.events.filter((e) => e.startsWith("lost"))).toEqual(["lost4"]);
  });

  it("refuses directions Node cannot give fds 0-2", () => {
    const p = new RecordingProtocol();
    expect(() => spawnProcess(p, SH, [SH], { childFDs: { 0: "r" } })).toThrow(TypeError);
    expect(() => spawnProcess(p, SH, [SH], { childFDs: { 1: "w" } })).toThrow(TypeError);
    expect(p.events).toEqual([]);
  });

  it("gives getPeer and getHost as ProcessAddress", () => {
    const p = new RecordingProtocol();
    const t = run(p, "/bin/true", ["true"]);
    expect(p.transport).toBe(t);
    expect(t.getPeer()).toBeInstanceOf(ProcessAddress);
    expect(t.getHost()).toBeInstanceOf(ProcessAddress);
  });
});

describe("producing", () => {
  it("pauseProducing holds the child's output back until resumeProducing", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "read go; echo after-pause");
    t.pauseProducing();
    t.write(Buffer.from("go\n"));
    // The child writes and exits while we are paused; Node resumes stdio at exit, the transport must not.
    await until(() => p.exitedReason !== null, "processExited");
    await sleep(100);
    expect(p.out()).toBe("");
    expect(p.events).not.toContain("lost1");
    expect(p.endedReason).toBeNull(); // ended needs stdout delivered and closed
    t.resumeProducing();
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(p.out()).toBe("after-pause\n");
    expect(p.events.indexOf("out")).toBeLessThan(p.events.indexOf("lost1"));
  });

  it("closeStdout while paused drops the held output and still ends", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "echo held; echo err >&2");
    t.pauseProducing();
    await until(() => p.exitedReason !== null, "processExited");
    await sleep(100);
    t.closeStdout();
    t.closeStderr();
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(p.out()).toBe("");
    expect(p.err()).toBe("");
    for (const fd of [0, 1, 2]) expect(p.events.filter((e) => e === `lost${fd}`)).toHaveLength(1);
  });

  it("feeds stdin from a pull producer, one chunk per request", async () => {
    const p = new RecordingProtocol();
    const t = run(p, "cat", ["cat"], { env: null });
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.from(`chunk ${i}\n`));
    let next = 0;
    const producer: IPullProducer = {
      resumeProducing() {
        if (next < chunks.length) {
          t.write(chunks[next++]!);
        } else {
          t.unregisterProducer();
          t.closeStdin();
        }
      },
      stopProducing() {},
    };
    t.registerProducer(producer, false);
    await within(p.ended, "processEnded");
    expect(p.data(1).equals(Buffer.concat(chunks))).toBe(true);
  });

  it("pauses a push producer while stdin is full and stops it when stdin goes", async () => {
    const p = new RecordingProtocol();
    const t = sh(p, "echo ready; exec sleep 30"); // never reads stdin
    const calls: string[] = [];
    const producer: IPushProducer = {
      pauseProducing: () => calls.push("pause"),
      resumeProducing: () => calls.push("resume"),
      stopProducing: () => calls.push("stop"),
    };
    t.registerProducer(producer, true);
    expect(() => t.registerProducer(producer, true)).toThrow(/Cannot register producer/);
    await until(() => p.out() === "ready\n", "the child to be ready");
    t.write(Buffer.alloc(1024 * 1024));
    expect(calls).toEqual(["pause"]);
    t.signalProcess("KILL");
    await within(p.ended, "processEnded");
    expect(calls).toEqual(["pause", "stop"]);
  });

  it("stops a producer registered when there is no stdin", () => {
    const p = new RecordingProtocol();
    const t = run(p, "/bin/true", ["true"], { childFDs: { 1: "r", 2: "r" } });
    const calls: string[] = [];
    t.registerProducer({ resumeProducing: () => calls.push("resume"), stopProducing: () => calls.push("stop") }, false);
    expect(calls).toEqual(["stop"]);
  });
});

describe("arguments, environment, working directory", () => {
  it("passes args[1:] as arguments and args[0] as argv[0] (test_commandLine, process_cmdline.py)", async () => {
    const args = ['a"b', "c d", " e f ", "", "\\", "$HOME", "ü"];
    // python3 -c sets sys.argv[0] to "-c"; look at argv[0] through the shell's $0 instead.
    const argv0 = new RecordingProtocol();
    run(argv0, SH, ["my-name", "-c", 'echo "$0"']);
    const q = new RecordingProtocol();
    run(q, PYTHON, ["python3", "-c", "import sys, json; sys.stdout.write(json.dumps(sys.argv[1:]))", ...args]);
    await within(Promise.all([argv0.ended, q.ended]), "processEnded");
    expect(argv0.out()).toBe("my-name\n");
    expect(JSON.parse(q.out())).toEqual(args);
  });

  it("gives the child exactly `env` (sh -c 'echo $FOO')", async () => {
    const p = new RecordingProtocol();
    sh(p, 'echo "$FOO"; echo "${HOME-unset}"', { env: { FOO: "bar baz", SKIPPED: undefined } });
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("bar baz\nunset\n");
  });

  it("gives the child an empty environment when env is omitted, as Twisted does on POSIX", async () => {
    const p = new RecordingProtocol();
    run(p, "env", ["env"]); // found through the default PATH /usr/bin:/bin
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("");
  });

  it("inherits process.env with env: null", async () => {
    process.env.WIRESCOPE_PROCESS_TEST = "inherited";
    try {
      const p = new RecordingProtocol();
      sh(p, 'echo "$WIRESCOPE_PROCESS_TEST"', { env: null });
      await within(p.ended, "processEnded");
      expect(p.out()).toBe("inherited\n");
    } finally {
      delete process.env.WIRESCOPE_PROCESS_TEST;
    }
  });

  it("runs the child in `path`", async () => {
    const p = new RecordingProtocol();
    run(p, "/bin/pwd", ["pwd", "-P"], { path: scratch });
    await within(p.ended, "processEnded");
    expect(p.out()).toBe(`${scratch}\n`);
  });

  it("runs a relative executable from `path`", async () => {
    const script = join(scratch, "hello.sh");
    writeFileSync(script, "#!/bin/sh\necho hello from $0\n");
    chmodSync(script, 0o755);
    const p = new RecordingProtocol();
    run(p, "./hello.sh", ["hello"], { path: scratch });
    await within(p.ended, "processEnded");
    expect(p.out()).toBe("hello from ./hello.sh\n");
  });

  it("uses the child's PATH, not the parent's, to find a bare name", () => {
    const p = new RecordingProtocol();
    expect(() => spawnProcess(p, "sh", ["sh"], { env: { PATH: scratch } })).toThrow(SpawnError);
    expect(p.events).toEqual([]);
  });
});

describe("spawn failures", () => {
  it("throws SpawnError ENOENT synchronously for a missing executable path (test_executionError)", () => {
    const p = new RecordingProtocol();
    const missing = join(scratch, "no-such-program");
    const err = catchError(() => spawnProcess(p, missing, ["x"]));
    expect(err).toBeInstanceOf(SpawnError);
    expect(err).toMatchObject({ code: "SpawnError", errno: "ENOENT", path: missing });
    expect(String((err as Error).message)).toContain(missing);
    expect(p.events).toEqual([]);
  });

  it("throws SpawnError ENOENT for a name not found in PATH", () => {
    const err = catchError(() =>
      spawnProcess(new RecordingProtocol(), "wirescope-no-such-program", ["x"], { env: null }),
    );
    expect(err).toMatchObject({ errno: "ENOENT", path: "wirescope-no-such-program" });
  });

  it("throws SpawnError EACCES for a file that is not executable, and for a directory", () => {
    const file = join(scratch, "not-executable.sh");
    writeFileSync(file, "#!/bin/sh\necho no\n");
    chmodSync(file, 0o644);
    expect(catchError(() => spawnProcess(new RecordingProtocol(), file, ["x"]))).toMatchObject({ errno: "EACCES" });
    expect(catchError(() => spawnProcess(new RecordingProtocol(), scratch, ["x"]))).toMatchObject({ errno: "EACCES" });
  });

  it("throws SpawnError for a missing working directory", () => {
    const missing = join(scratch, "no-such-dir");
    expect(catchError(() => spawnProcess(new RecordingProtocol(), SH, [SH], { path: missing }))).toMatchObject({
      errno: "ENOENT",
      path: missing,
    });
    const file = join(scratch, "plain-file");
    writeFileSync(file, "");
    expect(catchError(() => spawnProcess(new RecordingProtocol(), SH, [SH], { path: file }))).toMatchObject({
      errno: "ENOTDIR",
    });
  });

  it("reports an exec failure found only by the kernel as processEnded(ProcessSpawnFailed)", async () => {
    const script = join(scratch, "bad-interpreter.sh");
    writeFileSync(script, "#!/wirescope/no-such-interpreter\necho never\n");
    chmodSync(script, 0o755);
    const p = new RecordingProtocol();
    const t = run(p, script, ["bad"]);
    const reason = await within(p.ended, "processEnded");
    expect(reason).toBeInstanceOf(ProcessSpawnFailed);
    expect(reason).toBeInstanceOf(ProcessTerminated);
    expect(reason.message).toContain("ENOENT");
    expect(p.events.filter((e) => e === "processExited")).toHaveLength(1);
    expect(p.events.at(-1)).toBe("processEnded");
    for (const fd of [0, 1, 2]) expect(p.events).toContain(`lost${fd}`);
    expect(t.pid).toBeNull();
    expect(() => t.signalProcess("KILL")).toThrow(ProcessExitedAlready);
  });
});

describe("errors in callbacks", () => {
  let logged: LogEvent[];
  let unsubscribe: () => void;

  beforeAll(() => {
    logged = [];
    unsubscribe = globalLogPublisher.addObserver((event) => logged.push(event));
  });

  afterAll(() => unsubscribe());

  it("logs an error raised by processExited and still calls processEnded (test_processExitedRaises)", async () => {
    class Raising extends RecordingProtocol {
      override processExited(reason: ProcessExitReason): void {
        super.processExited(reason);
        throw new Error("processExited failed");
      }
    }
    const p = new Raising();
    sh(p, "exit 0");
    expect(await within(p.ended, "processEnded")).toBeInstanceOf(ProcessDone);
    const event = logged.find((e) => e.log_failure?.message === "processExited failed");
    expect(event?.callback).toBe("processExited");
    expect(event?.log_source).toBe(p);
  });

  it("closes the pipe whose childDataReceived raised, and the process still ends", async () => {
    class Raising extends RecordingProtocol {
      override outReceived(): void {
        throw new Error("outReceived failed");
      }
    }
    const p = new Raising();
    run(p, "yes", ["yes"], { env: null });
    const reason = await within(p.ended, "processEnded");
    expect(reason).toBeInstanceOf(ProcessTerminated); // `yes` failed writing to the closed pipe
    expect(logged.some((e) => e.log_failure?.message === "outReceived failed")).toBe(true);
  });
});

describe("IProcessProtocol without ProcessProtocol", () => {
  it("drives a plain object implementing the interface", async () => {
    const seen: string[] = [];
    let transport: IProcessTransport | null = null;
    const ended = new Promise<ProcessExitReason>((resolve) => {
      const protocol: IProcessProtocol = {
        makeConnection: (t) => (transport = t),
        childDataReceived: (fd, data) => seen.push(`${fd}:${Buffer.from(data).toString()}`),
        childConnectionLost: (fd) => seen.push(`lost${fd}`),
        processExited: () => seen.push("exited"),
        processEnded: resolve,
      };
      sh(protocol, "printf hi");
    });
    expect(await within(ended, "processEnded")).toBeInstanceOf(ProcessDone);
    expect(transport).not.toBeNull();
    expect(seen).toContain("1:hi");
  });
});

/** This process's fds above 2 that a child inherits: those without O_CLOEXEC (Linux /proc). */
function fdsWithoutCloseOnExec(): number[] {
  const O_CLOEXEC = 0o2000000;
  const fds: number[] = [];
  for (const name of readdirSync("/proc/self/fdinfo")) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let flags: number;
    try {
      flags = parseInt(/^flags:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${name}`, "utf8"))?.[1] ?? "0", 8);
    } catch {
      continue; // closed meanwhile (the directory handle of readdirSync itself)
    }
    if ((flags & O_CLOEXEC) === 0) fds.push(fd);
  }
  return fds.sort((a, b) => a - b);
}

/** Returns what `fn` throws (fails the test if it does not throw). */
function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}
